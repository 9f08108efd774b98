package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.BudgetedLifecycleProcessor;
import io.github.gracefulshutdown.core.ShutdownWatchdog;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.SearchStrategy;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleProperties;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.support.AbstractApplicationContext;

/**
 * Auto-configuration of what bounds the context's close beyond the shutdown sequence: the
 * {@link ShutdownWatchdog}, and the lifecycle processor that gives the phases after the
 * sequence only what is left of the budget. It comes before Spring Boot's
 * {@link LifecycleAutoConfiguration}, whose processor it replaces with the same
 * per-phase default; a {@code lifecycleProcessor} bean of the user's own is left alone,
 * which the coordinator reports at startup.
 */
@AutoConfiguration(before = LifecycleAutoConfiguration.class)
@ConditionalOnBooleanProperty(name = "graceful-shutdown.enabled", matchIfMissing = true)
@EnableConfigurationProperties(LifecycleProperties.class)
public final class GracefulShutdownLifecycleAutoConfiguration {

	@Bean
	@ConditionalOnMissingBean
	static ShutdownWatchdog shutdownWatchdog() {
		return new ShutdownWatchdog();
	}

	@Bean(name = AbstractApplicationContext.LIFECYCLE_PROCESSOR_BEAN_NAME)
	@ConditionalOnMissingBean(name = AbstractApplicationContext.LIFECYCLE_PROCESSOR_BEAN_NAME,
			search = SearchStrategy.CURRENT)
	BudgetedLifecycleProcessor lifecycleProcessor(LifecycleProperties properties, ShutdownWatchdog shutdownWatchdog) {
		BudgetedLifecycleProcessor processor = new BudgetedLifecycleProcessor(shutdownWatchdog);
		processor.setTimeoutPerShutdownPhase(properties.getTimeoutPerShutdownPhase().toMillis());
		return processor;
	}

}
