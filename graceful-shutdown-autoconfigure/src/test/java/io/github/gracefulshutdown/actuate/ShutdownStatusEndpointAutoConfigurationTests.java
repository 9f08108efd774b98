package io.github.gracefulshutdown.actuate;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownEndpointAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownMetricsAutoConfiguration;
import io.github.gracefulshutdown.metrics.GracefulShutdownMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.observation.DefaultMeterObservationHandler;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.observation.ObservationRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.actuate.autoconfigure.endpoint.EndpointAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.endpoint.web.WebEndpointAutoConfiguration;
import org.springframework.boot.actuate.endpoint.EndpointId;
import org.springframework.boot.actuate.endpoint.web.PathMappedEndpoints;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import static org.assertj.core.api.Assertions.assertThat;

@ExtendWith(OutputCaptureExtension.class)
class ShutdownStatusEndpointAutoConfigurationTests {

	private final WebApplicationContextRunner runner = new WebApplicationContextRunner()
		.withConfiguration(AutoConfigurations.of(LifecycleAutoConfiguration.class,
				GracefulShutdownAutoConfiguration.class, GracefulShutdownEndpointAutoConfiguration.class,
				GracefulShutdownMetricsAutoConfiguration.class, EndpointAutoConfiguration.class,
				WebEndpointAutoConfiguration.class));

	@Test
	void whenIncludedItIsAtShutdownStatusWithoutAWarning(CapturedOutput output) {
		this.runner.withPropertyValues("management.endpoints.web.exposure.include=shutdownStatus").run((context) -> {
			assertThat(context).hasSingleBean(ShutdownStatusEndpoint.class);
			assertThat(context.getBean(PathMappedEndpoints.class).getPath(EndpointId.of("shutdownStatus")))
				.isEqualTo("/actuator/shutdown-status");
		});
		assertThat(output).doesNotContain("Endpoint ID").doesNotContain("invalid characters");
	}

	@Test
	void aUsersOwnPathMappingWins() {
		this.runner
			.withPropertyValues("management.endpoints.web.exposure.include=shutdownStatus",
					"management.endpoints.web.path-mapping.shutdownStatus=drain")
			.run((context) -> assertThat(
					context.getBean(PathMappedEndpoints.class).getPath(EndpointId.of("shutdownStatus")))
				.isEqualTo("/actuator/drain"));
	}

	@Test
	void notExposedLikeAnyOtherEndpointUnlessIncluded() {
		this.runner.run((context) -> assertThat(context).doesNotHaveBean(ShutdownStatusEndpoint.class));
	}

	@Test
	void exposedOverJmxWhereJmxExposureIsOn() {
		this.runner.withPropertyValues("spring.jmx.enabled=true", "management.endpoints.jmx.exposure.include=*")
			.run((context) -> assertThat(context).hasSingleBean(ShutdownStatusEndpoint.class));
	}

	@Test
	void disabledConfiguresNeitherEndpointNorMeters() {
		this.runner
			.withPropertyValues("graceful-shutdown.enabled=false",
					"management.endpoints.web.exposure.include=shutdownStatus")
			.withBean(SimpleMeterRegistry.class)
			.run((context) -> assertThat(context).doesNotHaveBean(ShutdownStatusEndpoint.class)
				.doesNotHaveBean(GracefulShutdownMetrics.class));
	}

	@Test
	void backgroundJobRunsAndFailuresAreMeteredByJobAndOutcome() {
		new ApplicationContextRunner()
			.withConfiguration(AutoConfigurations.of(LifecycleAutoConfiguration.class,
					GracefulShutdownAutoConfiguration.class, GracefulShutdownMetricsAutoConfiguration.class))
			.withPropertyValues("graceful-shutdown.restart-backoff.initial=10ms",
					"graceful-shutdown.restart-backoff.max=10ms")
			.withUserConfiguration(ObservedConfiguration.class)
			.run((context) -> {
				context.publishEvent(new ApplicationReadyEvent(new SpringApplication(), new String[0],
						context.getSourceApplicationContext(), Duration.ZERO));
				FailsTwice job = context.getBean(FailsTwice.class);
				assertThat(job.running.await(5, TimeUnit.SECONDS)).isTrue();
				MeterRegistry meters = context.getBean(MeterRegistry.class);
				context.close();
				assertThat(meters.get("graceful.shutdown.background.runs")
					.tags("job", "fails-twice", "outcome", "failed")
					.timer()
					.count()).isEqualTo(2);
				assertThat(meters.get("graceful.shutdown.background.runs")
					.tags("job", "fails-twice", "outcome", "returned")
					.timer()
					.count()).isEqualTo(1);
				assertThat(meters.get("graceful.shutdown.jobs.active").tag("kind", "BACKGROUND").gauge().value())
					.isZero();
				assertThat(meters.get("graceful.shutdown.duration").tag("outcome", "completed").timer().count())
					.isEqualTo(1);
			});
	}

	@Configuration(proxyBeanMethods = false)
	static class ObservedConfiguration {

		@Bean
		SimpleMeterRegistry simpleMeterRegistry() {
			return new SimpleMeterRegistry();
		}

		@Bean
		ObservationRegistry observationRegistry(SimpleMeterRegistry meters) {
			ObservationRegistry registry = ObservationRegistry.create();
			registry.observationConfig().observationHandler(new DefaultMeterObservationHandler(meters));
			return registry;
		}

		// Spring Boot's MeterRegistryPostProcessor does this in an application.
		@Bean
		static BeanPostProcessor bindMetrics(ObjectProvider<SimpleMeterRegistry> meters) {
			return new BeanPostProcessor() {

				@Override
				public Object postProcessAfterInitialization(Object bean, String beanName) {
					if (bean instanceof GracefulShutdownMetrics metrics) {
						metrics.bindTo(meters.getObject());
					}
					return bean;
				}

			};
		}

		@Bean
		FailsTwice failsTwice() {
			return new FailsTwice();
		}

	}

	static class FailsTwice {

		final CountDownLatch running = new CountDownLatch(1);

		private int calls;

		@Background(name = "fails-twice")
		void run(ShutdownToken token) {
			if (++this.calls <= 2) {
				throw new IllegalStateException("failure " + this.calls);
			}
			this.running.countDown();
			token.await(Duration.ofMinutes(1));
		}

	}

}
