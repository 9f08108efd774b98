package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.signal.SecondSignalHandler;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;

/**
 * Installs the {@link SecondSignalHandler} once the application is ready: to halt on a
 * second signal when {@code graceful-shutdown.second-signal} is {@code halt}, or
 * {@code auto} (the default) and the process runs in a terminal; and, when the runtime
 * has JDK Flight Recorder, so that a first signal that finds a recording running closes
 * the context before the JVM's shutdown hooks stop the recording.
 */
@AutoConfiguration(after = GracefulShutdownAutoConfiguration.class)
@ConditionalOnBean(ShutdownCoordinator.class)
public final class GracefulShutdownSignalAutoConfiguration {

	private static final Log logger = LogFactory.getLog(GracefulShutdownSignalAutoConfiguration.class);

	@Bean
	ApplicationListener<ApplicationReadyEvent> secondSignalInstaller(GracefulShutdownProperties properties,
			ShutdownCoordinator shutdownCoordinator) {
		return (event) -> {
			GracefulShutdownProperties.SecondSignal mode = properties.getSecondSignal();
			boolean halt = (mode == GracefulShutdownProperties.SecondSignal.HALT)
					|| (mode == GracefulShutdownProperties.SecondSignal.AUTO && SecondSignalHandler.isInteractive());
			ConfigurableApplicationContext context = event.getApplicationContext();
			// Not for a test context: nobody signals one, and a handler per context would
			// keep every closed context of a test suite reachable.
			boolean jfr = ModuleLayer.boot().findModule("jdk.jfr").isPresent()
					&& !context.getBeanFactory().containsSingleton(GracefulShutdownTestContextCustomizerFactory.MARKER_BEAN);
			if (halt || jfr) {
				new SecondSignalHandler(shutdownCoordinator::describeInFlight,
						(status) -> Runtime.getRuntime().halt(status), halt,
						() -> closeWhileRecording(shutdownCoordinator, context))
					.install();
			}
		};
	}

	private static void closeWhileRecording(ShutdownCoordinator coordinator, ConfigurableApplicationContext context) {
		if (coordinator.isFlightRecording() && context.isActive()) {
			logger.info("A JFR recording is running: closing the context before the JVM's shutdown hooks stop it");
			context.close();
		}
	}

}
