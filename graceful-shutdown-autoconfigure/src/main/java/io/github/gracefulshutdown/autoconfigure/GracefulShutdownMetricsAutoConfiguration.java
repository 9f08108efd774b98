package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.metrics.GracefulShutdownMetrics;
import io.micrometer.core.instrument.binder.MeterBinder;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * Auto-configuration of the {@code graceful.shutdown.*} meters, only when Micrometer is
 * present. Spring Boot binds the {@link MeterBinder} to every meter registry.
 */
@AutoConfiguration(after = GracefulShutdownAutoConfiguration.class)
@ConditionalOnClass(MeterBinder.class)
@ConditionalOnBean(ShutdownCoordinator.class)
public final class GracefulShutdownMetricsAutoConfiguration {

	@Bean
	@ConditionalOnMissingBean
	GracefulShutdownMetrics gracefulShutdownMetrics(ShutdownCoordinator shutdownCoordinator,
			DefaultJobRegistry jobRegistry) {
		return new GracefulShutdownMetrics(shutdownCoordinator, jobRegistry);
	}

}
