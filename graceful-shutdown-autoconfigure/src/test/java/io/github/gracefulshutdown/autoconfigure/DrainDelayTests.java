package io.github.gracefulshutdown.autoconfigure;

import java.time.Duration;
import java.util.Map;

import io.github.gracefulshutdown.core.ShutdownCoordinator;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.test.annotation.DirtiesContext;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Where the drain delay comes from: the property, the platform, and whether a test
 * context is closing.
 */
class DrainDelayTests {

	private final ApplicationContextRunner runner = new ApplicationContextRunner().withConfiguration(
			AutoConfigurations.of(LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class));

	@Test
	void onKubernetesAnUnsetDrainDelayIsFiveSecondsAndTheBudgetLineSaysWhy() {
		this.runner.withPropertyValues("spring.main.cloud-platform=kubernetes").run((context) -> {
			ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
			assertThat(coordinator.settings().drainDelay()).isEqualTo(Duration.ofSeconds(5));
			assertThat(coordinator.describeBudget()).isEqualTo(
					"drain-delay 5 s (the default on Kubernetes) + deadline 30 s + margin 5 s = 40 s");
			assertThat(coordinator.phaseTimeout()).isEqualTo(Duration.ofSeconds(5 + 30 + 5));
		});
	}

	@Test
	void kubernetesIsDetectedFromItsServiceEnvironmentVariablesAsSpringBootDetectsIt() {
		this.runner
			.withInitializer((context) -> context.getEnvironment()
				.getPropertySources()
				.replace(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
						new SystemEnvironmentPropertySource(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
								Map.of("KUBERNETES_SERVICE_HOST", "10.0.0.1", "KUBERNETES_SERVICE_PORT", "443"))))
			.run((context) -> assertThat(context.getBean(ShutdownCoordinator.class).settings().drainDelay())
				.isEqualTo(Duration.ofSeconds(5)));
	}

	@Test
	void aDrainDelaySetOnKubernetesWinsAndTheLineNamesTheProperty() {
		this.runner.withPropertyValues("spring.main.cloud-platform=kubernetes", "graceful-shutdown.drain-delay=0s")
			.run((context) -> {
				ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
				assertThat(coordinator.settings().drainDelay()).isZero();
				assertThat(coordinator.describeBudget()).startsWith("drain-delay 0 s (graceful-shutdown.drain-delay");
			});
	}

	@Test
	void elsewhereAnUnsetDrainDelayIsNone() {
		this.runner.run((context) -> {
			ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
			assertThat(coordinator.settings().drainDelay()).isZero();
			assertThat(coordinator.describeBudget()).startsWith("drain-delay 0 s (the default outside Kubernetes) +");
		});
	}

	@Test
	void aDrainDelayFromAFileIsNamedWithTheFileAndLine() {
		// The config file's origin comes wrapped in its property source's; the budget
		// line shows the file and line, as Spring Boot's failure analysis does.
		try (ConfigurableApplicationContext context = new SpringApplicationBuilder(App.class)
			.web(WebApplicationType.NONE)
			.properties("spring.config.name=drain-delay-from-file", "spring.main.cloud-platform=none")
			.run()) {
			assertThat(context.getBean(ShutdownCoordinator.class).describeBudget()).startsWith(
					"drain-delay 2 s (graceful-shutdown.drain-delay in class path resource "
							+ "[drain-delay-from-file.properties] - 2:31) +");
		}
	}

	@Test
	void anotherPlatformGetsNoDefaultDelay() {
		this.runner.withPropertyValues("spring.main.cloud-platform=cloud_foundry")
			.run((context) -> assertThat(context.getBean(ShutdownCoordinator.class).settings().drainDelay()).isZero());
	}

	@SpringBootConfiguration
	@ImportAutoConfiguration({ LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class })
	static class App {

	}

	/**
	 * A context that Spring's TestContext framework builds, with the delay where a
	 * Kubernetes user puts it.
	 */
	@Nested
	@SpringBootTest(classes = App.class,
			properties = { "graceful-shutdown.drain-delay=3s", "spring.main.cloud-platform=kubernetes" })
	@DirtiesContext
	class InATestContext {

		@Autowired
		ConfigurableApplicationContext context;

		@Test
		void theDelayIsSkipped() {
			// The close itself, timed, is in the test module's ShutdownRehearsalTests: a
			// test that closes the context it was given must also take it out of Spring's
			// context cache.
			ShutdownCoordinator coordinator = this.context.getBean(ShutdownCoordinator.class);
			assertThat(coordinator.settings().drainDelay()).isZero();
			assertThat(coordinator.describeBudget()).startsWith("drain-delay 0 s (skipped in a test context, where it "
					+ "would be 3 s from graceful-shutdown.drain-delay in property source 'Inlined Test Properties'");
		}

	}

	/**
	 * A test that asks for the delay gets it.
	 */
	@Nested
	@SpringBootTest(classes = App.class,
			properties = { "graceful-shutdown.drain-delay=3s", "graceful-shutdown.drain-delay-in-tests=true" })
	class InATestContextThatAsksForTheDelay {

		@Autowired
		ShutdownCoordinator coordinator;

		@Test
		void theDelayApplies() {
			assertThat(this.coordinator.settings().drainDelay()).isEqualTo(Duration.ofSeconds(3));
		}

	}

}
