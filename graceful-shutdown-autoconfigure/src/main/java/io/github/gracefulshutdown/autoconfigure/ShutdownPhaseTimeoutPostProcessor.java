package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.ShutdownCoordinator;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.context.LifecycleProcessor;
import org.springframework.context.support.AbstractApplicationContext;
import org.springframework.context.support.DefaultLifecycleProcessor;

/**
 * Gives the coordinator's phase a timeout of its own. The lifecycle processor gives every
 * phase {@code timeout-per-shutdown-phase}; with a drain delay on top, the context would
 * stop waiting for our phase and destroy beans while jobs still finish.
 */
final class ShutdownPhaseTimeoutPostProcessor implements BeanPostProcessor {

	private static final Log logger = LogFactory.getLog(ShutdownPhaseTimeoutPostProcessor.class);

	private final ObjectProvider<ShutdownCoordinator> coordinator;

	ShutdownPhaseTimeoutPostProcessor(ObjectProvider<ShutdownCoordinator> coordinator) {
		this.coordinator = coordinator;
	}

	@Override
	public Object postProcessBeforeInitialization(Object bean, String beanName) {
		if (!(bean instanceof LifecycleProcessor)
				|| !AbstractApplicationContext.LIFECYCLE_PROCESSOR_BEAN_NAME.equals(beanName)) {
			return bean;
		}
		ShutdownCoordinator coordinator = this.coordinator.getIfAvailable();
		if (coordinator == null) {
			return bean;
		}
		if (bean instanceof DefaultLifecycleProcessor processor) {
			processor.setTimeoutForShutdownPhase(coordinator.getPhase(), coordinator.phaseTimeout().toMillis());
		}
		else {
			logger.warn("The lifecycle processor is a " + bean.getClass().getName()
					+ ", not a DefaultLifecycleProcessor; make sure it waits " + coordinator.phaseTimeout()
					+ " for phase " + coordinator.getPhase() + ", or shutdown may be cut short");
		}
		return bean;
	}

}
