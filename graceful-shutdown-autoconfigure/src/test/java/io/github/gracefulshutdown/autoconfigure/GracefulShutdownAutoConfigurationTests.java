package io.github.gracefulshutdown.autoconfigure;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.JobRegistry;
import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.TrackedJob;
import io.github.gracefulshutdown.background.BackgroundJobProcessor;
import io.github.gracefulshutdown.core.CancellableToken;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.availability.ApplicationAvailabilityAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import static org.assertj.core.api.Assertions.assertThat;

@ExtendWith(OutputCaptureExtension.class)
class GracefulShutdownAutoConfigurationTests {

	private final ApplicationContextRunner runner = new ApplicationContextRunner().withConfiguration(
			AutoConfigurations.of(LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class));

	@Test
	void providesTheCoreBeansWithoutAWebServerOrActuator() {
		this.runner.run((context) -> {
			assertThat(context).hasSingleBean(ShutdownToken.class)
				.hasSingleBean(JobRegistry.class)
				.hasSingleBean(ShutdownCoordinator.class)
				.hasSingleBean(BackgroundJobProcessor.class)
				.hasSingleBean(GracefulShutdownProperties.class);
			GracefulShutdownProperties properties = context.getBean(GracefulShutdownProperties.class);
			assertThat(properties.getDrainDelay()).isNull();
			assertThat(context.getBean(ShutdownCoordinator.class).settings().drainDelay()).isZero();
			assertThat(properties.getProgressLogInterval()).isEqualTo(Duration.ofSeconds(1));
			assertThat(properties.isInterruptStragglers()).isTrue();
			assertThat(properties.getRestartBackoff().getInitial()).isEqualTo(Duration.ofSeconds(1));
			assertThat(properties.getRestartBackoff().getMax()).isEqualTo(Duration.ofMinutes(1));
			assertThat(context.getBean(ShutdownCoordinator.class).phaseTimeout())
				.isEqualTo(Duration.ofSeconds(30 + 5));
		});
	}

	@Test
	void disabledKeepsOnlyTheInjectableApiSoCodeThatUsesItStillStarts(CapturedOutput output) {
		this.runner.withPropertyValues("graceful-shutdown.enabled=false")
			.withBean("worker", Worker.class)
			.run((context) -> {
				assertThat(context).hasNotFailed()
					.hasSingleBean(ShutdownToken.class)
					.hasSingleBean(JobRegistry.class)
					.doesNotHaveBean(ShutdownCoordinator.class)
					.doesNotHaveBean(GracefulShutdownProperties.class);
				context.publishEvent(new ApplicationReadyEvent(new SpringApplication(), new String[0],
						context.getSourceApplicationContext(), Duration.ZERO));
				assertThat(context.getBean(Worker.class).ran).isFalse();
				ShutdownToken token = context.getBean(ShutdownToken.class);
				context.close();
				assertThat(token.isShutdownRequested()).isFalse();
			});
		assertThat(output).contains("graceful-shutdown.enabled=false: not starting @Background jobs [worker.run]");
	}

	static class Worker {

		volatile boolean ran;

		@Background
		void run() {
			this.ran = true;
		}

	}

	@Test
	void usersOwnBeansWin() {
		this.runner.withUserConfiguration(OwnTokenConfiguration.class).run((context) -> {
			assertThat(context).hasSingleBean(ShutdownToken.class);
			assertThat(context.getBean(ShutdownToken.class)).isSameAs(OwnTokenConfiguration.TOKEN);
			assertThat(context).hasSingleBean(JobRegistry.class);
		});
	}

	@Test
	void deadlineAndDelayComeFromProperties() {
		this.runner
			.withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=12s", "graceful-shutdown.drain-delay=3s")
			.run((context) -> assertThat(context.getBean(ShutdownCoordinator.class).phaseTimeout())
				.isEqualTo(Duration.ofSeconds(3 + 12 + 5)));
	}

	@Test
	void negativeDrainDelayFailsNamingTheProperty() {
		assertInvalid("graceful-shutdown.drain-delay=-1s", "graceful-shutdown.drain-delay", "must not be negative");
	}

	@Test
	void zeroProgressLogIntervalFailsNamingTheProperty() {
		assertInvalid("graceful-shutdown.progress-log-interval=0s", "graceful-shutdown.progress-log-interval",
				"must be longer than zero");
	}

	@Test
	void zeroRestartBackoffFailsNamingTheProperty() {
		assertInvalid("graceful-shutdown.restart-backoff.initial=0ms", "graceful-shutdown.restart-backoff.initial",
				"must be longer than zero");
	}

	@Test
	void maxBackoffShorterThanInitialFailsNamingTheProperty() {
		this.runner
			.withPropertyValues("graceful-shutdown.restart-backoff.initial=10s",
					"graceful-shutdown.restart-backoff.max=1s")
			.run((context) -> assertThat(context).getFailure()
				.rootCause()
				.isInstanceOf(InvalidConfigurationPropertyValueException.class)
				.hasMessageContaining("graceful-shutdown.restart-backoff.max")
				.hasMessageContaining("must not be shorter than graceful-shutdown.restart-backoff.initial"));
	}

	@Test
	void zeroShutdownTimeoutFailsNamingTheProperty() {
		assertInvalid("spring.lifecycle.timeout-per-shutdown-phase=0s", "spring.lifecycle.timeout-per-shutdown-phase",
				"must be longer than zero");
	}

	private void assertInvalid(String property, String name, String reason) {
		this.runner.withPropertyValues(property).run((context) -> {
			assertThat(context).hasFailed();
			assertThat(context).getFailure()
				.rootCause()
				.isInstanceOfSatisfying(InvalidConfigurationPropertyValueException.class,
						(ex) -> assertThat(ex.getName()).isEqualTo(name))
				.hasMessageContaining(reason);
		});
	}

	@Test
	void ourPhaseOutlastsTimeoutPerShutdownPhaseSoBeansOutliveTheJobs() {
		// Spring gives each phase 1 s; drain delay plus the job take about 1.6 s. Without
		// a phase timeout of our own, the context would destroy beans under the job.
		this.runner.withUserConfiguration(ResourceConfiguration.class)
			.withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=1s", "graceful-shutdown.drain-delay=800ms")
			.run((context) -> {
				DefaultJobRegistry registry = context.getBean(DefaultJobRegistry.class);
				ShutdownToken token = context.getBean(ShutdownToken.class);
				Resource resource = context.getBean(Resource.class);
				AtomicLong jobEndedAt = new AtomicLong();
				TrackedJob job = registry.begin("needs-the-resource");
				Thread worker = new Thread(() -> {
					try (job) {
						token.await(Duration.ofSeconds(30));
						sleep(800);
						jobEndedAt.set(System.nanoTime());
					}
				}, "worker");
				worker.start();
				context.close();
				assertThat(jobEndedAt.get()).as("job finished").isPositive();
				assertThat(resource.destroyedAt.get()).as("resource destroyed after the job ended")
					.isGreaterThan(jobEndedAt.get());
			});
	}

	@Test
	void readinessIsRefusedInAContextWithoutAWebServer() {
		this.runner.withConfiguration(AutoConfigurations.of(ApplicationAvailabilityAutoConfiguration.class))
			.run((context) -> {
				ApplicationAvailability availability = context.getBean(ApplicationAvailability.class);
				ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
				coordinator.stop();
				assertThat(availability.getReadinessState()).isEqualTo(ReadinessState.REFUSING_TRAFFIC);
			});
	}

	private static void sleep(long millis) {
		try {
			Thread.sleep(millis);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	@Configuration(proxyBeanMethods = false)
	static class OwnTokenConfiguration {

		static final CancellableToken TOKEN = new CancellableToken();

		@Bean
		CancellableToken myToken() {
			return TOKEN;
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class ResourceConfiguration {

		@Bean
		Resource resource() {
			return new Resource();
		}

	}

	static class Resource implements DisposableBean {

		final AtomicLong destroyedAt = new AtomicLong();

		@Override
		public void destroy() {
			this.destroyedAt.set(System.nanoTime());
		}

	}

}
