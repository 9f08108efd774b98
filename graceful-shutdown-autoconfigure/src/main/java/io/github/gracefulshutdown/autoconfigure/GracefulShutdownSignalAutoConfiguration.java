package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.signal.SecondSignalHandler;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.beans.factory.DisposableBean;
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
	SignalHandlerInstaller secondSignalInstaller(GracefulShutdownProperties properties,
			ShutdownCoordinator shutdownCoordinator, ConfigurableApplicationContext context) {
		return new SignalHandlerInstaller(properties, shutdownCoordinator, context);
	}

	/**
	 * Installs the handler when its own context is ready, and takes it out again when that
	 * context closes without a signal, as every DevTools restart closes one: otherwise each
	 * restart would add a handler that keeps the closed context and its class loader
	 * reachable.
	 */
	static final class SignalHandlerInstaller implements ApplicationListener<ApplicationReadyEvent>, DisposableBean {

		private final GracefulShutdownProperties properties;

		private final ShutdownCoordinator shutdownCoordinator;

		private final ConfigurableApplicationContext context;

		private @Nullable SecondSignalHandler handler;

		SignalHandlerInstaller(GracefulShutdownProperties properties, ShutdownCoordinator shutdownCoordinator,
				ConfigurableApplicationContext context) {
			this.properties = properties;
			this.shutdownCoordinator = shutdownCoordinator;
			this.context = context;
		}

		@Override
		public synchronized void onApplicationEvent(ApplicationReadyEvent event) {
			// A child context's event reaches its parent's listeners too: one handler, for
			// the context that declares it.
			if (event.getApplicationContext() != this.context || this.handler != null) {
				return;
			}
			GracefulShutdownProperties.SecondSignal mode = this.properties.getSecondSignal();
			boolean halt = (mode == GracefulShutdownProperties.SecondSignal.HALT)
					|| (mode == GracefulShutdownProperties.SecondSignal.AUTO && SecondSignalHandler.isInteractive());
			// Not for a test context: nobody signals one.
			boolean jfr = ModuleLayer.boot().findModule("jdk.jfr").isPresent() && !this.context.getBeanFactory()
				.containsSingleton(GracefulShutdownTestContextCustomizerFactory.MARKER_BEAN);
			if (halt || jfr) {
				ShutdownCoordinator coordinator = this.shutdownCoordinator;
				ConfigurableApplicationContext context = this.context;
				SecondSignalHandler handler = new SecondSignalHandler(coordinator::describeInFlight,
						(status) -> Runtime.getRuntime().halt(status), halt,
						() -> closeWhileRecording(coordinator, context));
				if (handler.install()) {
					this.handler = handler;
				}
			}
		}

		// After a signal the handler stays: the shutdown is under way, and a second signal
		// must still find it.
		@Override
		public synchronized void destroy() {
			if (this.handler != null && this.handler.uninstall()) {
				this.handler = null;
			}
		}

		@Nullable SecondSignalHandler handler() {
			return this.handler;
		}

	}

	private static void closeWhileRecording(ShutdownCoordinator coordinator, ConfigurableApplicationContext context) {
		if (coordinator.isFlightRecording() && context.isActive()) {
			logger.info("A JFR recording is running: closing the context before the JVM's shutdown hooks stop it");
			context.close();
		}
	}

}
