package io.github.gracefulshutdown.autoconfigure;

import java.time.Duration;

import io.github.gracefulshutdown.JobRegistry;
import io.github.gracefulshutdown.ShutdownCoordinator;
import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.background.BackgroundJobProcessor;
import io.micrometer.observation.ObservationRegistry;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * Auto-configuration of the core of graceful shutdown: the {@link ShutdownToken}, the
 * {@link JobRegistry}, {@code @Background} jobs and the {@link ShutdownCoordinator}. It
 * needs neither a web server nor actuator.
 * <p>
 * With {@code graceful-shutdown.enabled=false} the token and the registry remain, so code
 * that injects them still starts, but nothing shuts down gracefully: there is no
 * coordinator, the token is never cancelled, and {@code @Background} methods are not
 * started, which is logged as a warning naming each of them.
 */
@AutoConfiguration(after = LifecycleAutoConfiguration.class)
public final class GracefulShutdownAutoConfiguration {

	static final String TIMEOUT_PROPERTY = "spring.lifecycle.timeout-per-shutdown-phase";

	@Bean
	@ConditionalOnMissingBean
	ShutdownToken shutdownToken() {
		return new ShutdownToken();
	}

	@Bean
	@ConditionalOnMissingBean
	JobRegistry jobRegistry(ShutdownToken shutdownToken) {
		return new JobRegistry(shutdownToken);
	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnBooleanProperty(name = "graceful-shutdown.enabled", matchIfMissing = true)
	@EnableConfigurationProperties(GracefulShutdownProperties.class)
	static class EnabledConfiguration {

		@Bean
		@ConditionalOnMissingBean
		ShutdownCoordinator shutdownCoordinator(ShutdownToken shutdownToken, JobRegistry jobRegistry,
				ObjectProvider<ShutdownParticipant> participants, GracefulShutdownProperties properties,
				Environment environment) {
			properties.validate();
			return new ShutdownCoordinator(shutdownToken, jobRegistry, participants.orderedStream().toList(),
					properties.getDrainDelay(), shutdownTimeout(environment), properties.getProgressLogInterval(),
					properties.isInterruptStragglers());
		}

		@Bean
		static BackgroundJobProcessor backgroundJobProcessor(ObjectProvider<ShutdownToken> shutdownToken,
				ObjectProvider<JobRegistry> jobRegistry, ObjectProvider<ObservationRegistry> observationRegistry,
				Environment environment) {
			// A post-processor is created before properties beans; bind (and validate) directly.
			GracefulShutdownProperties.RestartBackoff backoff = Binder.get(environment)
				.bindOrCreate(GracefulShutdownProperties.PREFIX + ".restart-backoff",
						GracefulShutdownProperties.RestartBackoff.class);
			backoff.validate();
			return new BackgroundJobProcessor(shutdownToken, jobRegistry, observationRegistry, backoff.getInitial(),
					backoff.getMax());
		}

		@Bean
		static ShutdownPhaseTimeoutPostProcessor shutdownPhaseTimeoutPostProcessor(
				ObjectProvider<ShutdownCoordinator> shutdownCoordinator) {
			return new ShutdownPhaseTimeoutPostProcessor(shutdownCoordinator);
		}

	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnBooleanProperty(name = "graceful-shutdown.enabled", havingValue = false)
	static class DisabledConfiguration {

		@Bean
		static BackgroundJobProcessor backgroundJobProcessor() {
			return BackgroundJobProcessor.disabled();
		}

	}

	static Duration shutdownTimeout(Environment environment) {
		Duration timeout = Binder.get(environment).bind(TIMEOUT_PROPERTY, Duration.class).orElse(Duration.ofSeconds(30));
		if (timeout.isNegative() || timeout.isZero()) {
			throw new InvalidConfigurationPropertyValueException(TIMEOUT_PROPERTY, timeout,
					"must be longer than zero: it is the deadline for graceful shutdown");
		}
		return timeout;
	}

}
