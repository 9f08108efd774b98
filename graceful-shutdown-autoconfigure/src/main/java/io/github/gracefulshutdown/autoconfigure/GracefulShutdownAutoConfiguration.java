package io.github.gracefulshutdown.autoconfigure;

import java.time.Duration;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.background.BackgroundJobProcessor;
import io.github.gracefulshutdown.core.CancellableToken;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.core.ShutdownWatchdog;
import io.micrometer.observation.ObservationRegistry;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleProperties;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * Auto-configuration of the core of graceful shutdown: the {@link ShutdownToken}, the
 * job registry, {@code @Background} jobs and the {@link ShutdownCoordinator}. It needs
 * neither a web server nor actuator.
 * <p>
 * {@code graceful-shutdown.enabled} is read here, once: every other auto-configuration
 * of the starter depends on the coordinator bean. With {@code enabled=false} the token
 * and the registry remain, so code that injects them still starts, but nothing shuts
 * down gracefully: there is no coordinator, the token is never cancelled, and
 * {@code @Background} methods are validated but not started, which is logged as a
 * warning naming each of them.
 */
@AutoConfiguration(after = { LifecycleAutoConfiguration.class, GracefulShutdownLifecycleAutoConfiguration.class })
public final class GracefulShutdownAutoConfiguration {

	static final String TIMEOUT_PROPERTY = "spring.lifecycle.timeout-per-shutdown-phase";

	@Bean
	@ConditionalOnMissingBean
	CancellableToken shutdownToken() {
		return new CancellableToken();
	}

	@Bean
	@ConditionalOnMissingBean
	DefaultJobRegistry jobRegistry(ShutdownToken shutdownToken) {
		return new DefaultJobRegistry(shutdownToken);
	}

	@Bean
	static BackgroundJobProcessor backgroundJobProcessor(ObjectProvider<ShutdownToken> shutdownToken,
			ObjectProvider<DefaultJobRegistry> jobRegistry, ObjectProvider<ObservationRegistry> observationRegistry,
			ObjectProvider<ShutdownCoordinator> shutdownCoordinator,
			ObjectProvider<GracefulShutdownProperties> properties) {
		// A post-processor is created before any properties bean: everything it needs
		// beyond the methods it validates is asked for only when the jobs start.
		return new BackgroundJobProcessor(shutdownToken, jobRegistry, observationRegistry, () -> {
			if (shutdownCoordinator.getIfAvailable() == null) {
				return null;
			}
			GracefulShutdownProperties.RestartBackoff backoff = properties.getObject().getRestartBackoff();
			return new BackgroundJobProcessor.Backoff(backoff.getInitial(), backoff.getMax());
		});
	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnBooleanProperty(name = "graceful-shutdown.enabled", matchIfMissing = true)
	@EnableConfigurationProperties(GracefulShutdownProperties.class)
	static class EnabledConfiguration {

		@Bean
		@ConditionalOnMissingBean
		ShutdownCoordinator shutdownCoordinator(CancellableToken shutdownToken, DefaultJobRegistry jobRegistry,
				ObjectProvider<ShutdownParticipant> participants, GracefulShutdownProperties properties,
				LifecycleProperties lifecycle, ObjectProvider<ShutdownWatchdog> watchdog, Environment environment,
				ConfigurableListableBeanFactory beanFactory) {
			properties.validate();
			DrainDelay drainDelay = drainDelay(properties, environment, beanFactory);
			return new ShutdownCoordinator(shutdownToken, jobRegistry, participants.orderedStream().toList(),
					new ShutdownCoordinator.Settings(drainDelay.value(), deadline(lifecycle),
							properties.getProgressLogInterval(), properties.isInterruptStragglers(),
							properties.getWatchdogMargin(), drainDelay.source()),
					watchdog.getIfAvailable());
		}

	}

	/**
	 * The drain delay that applies here: in a test context, on Kubernetes, or as set.
	 */
	static DrainDelay drainDelay(GracefulShutdownProperties properties, Environment environment,
			ConfigurableListableBeanFactory beanFactory) {
		return DrainDelay.resolve(properties, environment,
				beanFactory.containsSingleton(GracefulShutdownTestContextCustomizerFactory.MARKER_BEAN));
	}

	/**
	 * Spring Boot's own deadline, bound by Spring Boot: here it is one budget for the
	 * whole drain, not one per phase.
	 */
	static Duration deadline(LifecycleProperties lifecycle) {
		Duration timeout = lifecycle.getTimeoutPerShutdownPhase();
		if (timeout.isNegative() || timeout.isZero()) {
			throw new InvalidConfigurationPropertyValueException(TIMEOUT_PROPERTY, timeout,
					"must be longer than zero: it is the deadline for graceful shutdown");
		}
		return timeout;
	}

}
