package io.github.gracefulshutdown.autoconfigure;

import org.junit.jupiter.api.Test;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The signal handler of a real application, in this JVM: installed when the application
 * is ready, and taken out when it closes without a signal, as DevTools restarts do.
 */
class SignalHandlerInstallerTests {

	private static final Signal TERM = new Signal("TERM");

	@Test
	void eachRestartTakesOutTheHandlerOfTheContextItCloses() {
		String before = current(TERM);
		for (int restart = 0; restart < 3; restart++) {
			try (ConfigurableApplicationContext context = start()) {
				assertThat(current(TERM)).as("the handler once ready").isNotEqualTo(before);
				assertThat(context.getBean(GracefulShutdownSignalAutoConfiguration.SignalHandlerInstaller.class)
					.handler()).isNotNull();
			}
			assertThat(current(TERM)).as("the handler after close %d", restart + 1).isEqualTo(before);
		}
	}

	@Test
	void aChildContextsReadyEventInstallsNoSecondHandler() {
		String before = current(TERM);
		SpringApplicationBuilder parent = new SpringApplicationBuilder(App.class).web(WebApplicationType.NONE);
		try (ConfigurableApplicationContext context = parent.run();
				ConfigurableApplicationContext child = parent.child(Child.class).web(WebApplicationType.NONE).run()) {
			String installed = current(TERM);
			assertThat(installed).isNotEqualTo(before);
			child.close();
			assertThat(current(TERM)).as("the parent's handler, after the child closed").isEqualTo(installed);
		}
		assertThat(current(TERM)).as("the handler after both closed").isEqualTo(before);
	}

	private static ConfigurableApplicationContext start() {
		return new SpringApplicationBuilder(App.class).web(WebApplicationType.NONE).run();
	}

	// Reads the handler by swapping it out for a moment, as sun.misc.Signal has no getter,
	// and names it as printed: sun.misc wraps the JVM's own handler anew on every read, and
	// the wrapper prints the handler it wraps.
	private static String current(Signal signal) {
		SignalHandler current = Signal.handle(signal, (received) -> {
		});
		Signal.handle(signal, current);
		return current.toString();
	}

	@SpringBootConfiguration
	@ImportAutoConfiguration({ LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class,
			GracefulShutdownSignalAutoConfiguration.class })
	static class App {

	}

	@SpringBootConfiguration
	static class Child {

	}

}
