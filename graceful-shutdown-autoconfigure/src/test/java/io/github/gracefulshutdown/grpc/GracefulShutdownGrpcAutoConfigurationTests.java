package io.github.gracefulshutdown.grpc;

import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownGrpcAutoConfiguration;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.grpc.BindableService;
import io.grpc.protobuf.services.HealthStatusManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.beans.factory.support.StaticListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.availability.ApplicationAvailabilityAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.autoconfigure.ssl.SslAutoConfiguration;
import org.springframework.boot.grpc.server.autoconfigure.GrpcServerAutoConfiguration;
import org.springframework.boot.grpc.server.autoconfigure.health.GrpcServerHealthAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.grpc.server.ServerBuilderCustomizer;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * When the gRPC participant is configured, and when it backs off.
 */
@ExtendWith(OutputCaptureExtension.class)
class GracefulShutdownGrpcAutoConfigurationTests {

	static final AutoConfigurations CONFIGURATIONS = AutoConfigurations.of(LifecycleAutoConfiguration.class,
			ApplicationAvailabilityAutoConfiguration.class, SslAutoConfiguration.class,
			GrpcServerAutoConfiguration.class, GrpcServerHealthAutoConfiguration.class,
			GracefulShutdownAutoConfiguration.class, GracefulShutdownGrpcAutoConfiguration.class);

	private final ApplicationContextRunner runner = new ApplicationContextRunner().withConfiguration(CONFIGURATIONS)
		.withPropertyValues("spring.grpc.server.address=127.0.0.1", "spring.grpc.server.port=0");

	private final ApplicationContextRunner withAService = this.runner.withBean(BindableService.class,
			() -> new WorkService(true));

	@Test
	void aGrpcServerIsAParticipantWhoseCallsAreCountedAndWhoseHealthFollowsReadiness() {
		this.withAService.run((context) -> {
			assertThat(context).hasSingleBean(InFlightCalls.class)
				.hasSingleBean(GrpcHealthFollowsReadiness.class)
				.hasSingleBean(GrpcServerLifecycle.class);
			assertThat(context.getBean(ShutdownCoordinator.class).participants())
				.contains(context.getBean(InFlightCalls.class));
			assertThat(context.getBeansOfType(ServerBuilderCustomizer.class))
				.containsKey("grpcInFlightCallsServerBuilderCustomizer");
			assertThat(context.getBean(GrpcServerLifecycle.class).isRunning()).isTrue();
		});
	}

	@Test
	void withoutAGrpcServiceNoServerStartsAndNoCallsAreClaimed() {
		this.runner.run((context) -> assertThat(context).hasNotFailed()
			.hasSingleBean(ShutdownCoordinator.class)
			.doesNotHaveBean(GrpcServerLifecycle.class)
			.doesNotHaveBean(InFlightCalls.class)
			.doesNotHaveBean(GrpcHealthFollowsReadiness.class));
	}

	@Test
	void withoutSpringGrpcNothingIsConfigured() {
		this.withAService.withClassLoader(new FilteredClassLoader("org.springframework.grpc"))
			.run((context) -> assertThat(context).hasNotFailed()
				.hasSingleBean(ShutdownCoordinator.class)
				.doesNotHaveBean(InFlightCalls.class)
				.doesNotHaveBean(GrpcHealthFollowsReadiness.class));
	}

	@Test
	void withoutGrpcServicesCallsAreCountedAndNoHealthIsTouched() {
		this.withAService.withClassLoader(new FilteredClassLoader("io.grpc.protobuf.services"))
			.run((context) -> assertThat(context).hasNotFailed()
				.hasSingleBean(InFlightCalls.class)
				.doesNotHaveBean(GrpcHealthFollowsReadiness.class));
	}

	@Test
	void disabledConfiguresNoGrpcParticipant() {
		this.withAService.withPropertyValues("graceful-shutdown.enabled=false")
			.run((context) -> assertThat(context).hasNotFailed()
				.hasSingleBean(GrpcServerLifecycle.class)
				.doesNotHaveBean(ShutdownCoordinator.class)
				.doesNotHaveBean(InFlightCalls.class)
				.doesNotHaveBean(GrpcHealthFollowsReadiness.class));
	}

	@Test
	void aUsersOwnBeansWin() {
		InFlightCalls calls = new InFlightCalls();
		GrpcHealthFollowsReadiness health = new GrpcHealthFollowsReadiness(
				new StaticListableBeanFactory().getBeanProvider(HealthStatusManager.class));
		this.withAService.withBean("myCalls", InFlightCalls.class, () -> calls)
			.withBean("myHealth", GrpcHealthFollowsReadiness.class, () -> health)
			.run((context) -> {
				assertThat(context).getBean(InFlightCalls.class).isSameAs(calls);
				assertThat(context).getBean(GrpcHealthFollowsReadiness.class).isSameAs(health);
				// The server still counts its calls on the user's bean.
				assertThat(context.getBean(ShutdownCoordinator.class).participants()).contains(calls);
			});
	}

	@Test
	void anExplicitGracePeriodIsSaidToBeUnusedOnceAtStartup(CapturedOutput output) {
		this.withAService.withPropertyValues("spring.grpc.server.shutdown.grace-period=10s")
			.run((context) -> assertThat(context).hasNotFailed());
		assertThat(output).containsOnlyOnce("spring.grpc.server.shutdown.grace-period is not used: graceful-shutdown "
				+ "drains the gRPC server itself, within spring.lifecycle.timeout-per-shutdown-phase; set "
				+ "graceful-shutdown.enabled=false to use it");
	}

	@Test
	void theDefaultGracePeriodSaysNothing(CapturedOutput output) {
		this.withAService.run((context) -> assertThat(context).hasNotFailed());
		assertThat(output).doesNotContain("grace-period");
	}

}
