package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.signal.SecondSignalHandler;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.context.annotation.Bean;

/**
 * Installs the {@link SecondSignalHandler} once the application is ready, when
 * {@code graceful-shutdown.second-signal} is {@code halt}, or {@code auto} (the default)
 * and the process runs in a terminal.
 */
@AutoConfiguration(after = GracefulShutdownAutoConfiguration.class)
@ConditionalOnBean(ShutdownCoordinator.class)
public final class GracefulShutdownSignalAutoConfiguration {

	@Bean
	ApplicationListener<ApplicationReadyEvent> secondSignalInstaller(GracefulShutdownProperties properties,
			ShutdownCoordinator shutdownCoordinator) {
		return (event) -> {
			GracefulShutdownProperties.SecondSignal mode = properties.getSecondSignal();
			boolean halt = (mode == GracefulShutdownProperties.SecondSignal.HALT)
					|| (mode == GracefulShutdownProperties.SecondSignal.AUTO && SecondSignalHandler.isInteractive());
			if (halt) {
				new SecondSignalHandler(shutdownCoordinator::describeInFlight,
						(status) -> Runtime.getRuntime().halt(status))
					.install();
			}
		};
	}

}
