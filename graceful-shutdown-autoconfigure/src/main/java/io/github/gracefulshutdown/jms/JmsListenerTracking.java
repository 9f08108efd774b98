package io.github.gracefulshutdown.jms;

import java.util.function.Supplier;

import org.jspecify.annotations.Nullable;

import org.springframework.beans.BeansException;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.BeanFactoryAware;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.context.SmartLifecycle;
import org.springframework.jms.config.JmsListenerEndpointRegistry;
import org.springframework.jms.listener.DefaultMessageListenerContainer;
import org.springframework.util.function.SingletonSupplier;

/**
 * Hands every {@link DefaultMessageListenerContainer} of the context to
 * {@link JmsListenerContainers} before it starts, whoever built it:
 * <ul>
 * <li>a container declared as a bean, as it is initialized, under its bean name;</li>
 * <li>a container of a {@code @JmsListener} method, which Spring's
 * {@link JmsListenerEndpointRegistry} makes from a container factory while the context
 * refreshes and which is no bean, when this lifecycle bean starts, in the first phase,
 * before the registry starts any container: under the listener's id.</li>
 * </ul>
 * Spring JMS's container factories offer no hook that sees the containers they make (no
 * customizer, a protected {@code initializeContainer}), so the containers are taken from
 * the registry instead, whatever factory made them: Spring Boot's, or one of the
 * application's own.
 */
public final class JmsListenerTracking implements BeanPostProcessor, BeanFactoryAware, SmartLifecycle {

	private final Supplier<@Nullable JmsListenerContainers> containers;

	private @Nullable ListableBeanFactory beanFactory;

	private volatile boolean running;

	/**
	 * Creates the post-processor.
	 * @param containers the participant, asked for at the first container: a
	 * post-processor is created before most beans
	 */
	public JmsListenerTracking(ObjectProvider<JmsListenerContainers> containers) {
		this.containers = SingletonSupplier.of(containers::getIfAvailable);
	}

	@Override
	public void setBeanFactory(BeanFactory beanFactory) {
		if (beanFactory instanceof ListableBeanFactory listable) {
			this.beanFactory = listable;
		}
	}

	@Override
	public Object postProcessAfterInitialization(Object bean, String beanName) throws BeansException {
		if (bean instanceof DefaultMessageListenerContainer container) {
			JmsListenerContainers containers = this.containers.get();
			if (containers != null) {
				containers.track(container, beanName);
			}
		}
		return bean;
	}

	/**
	 * Tracks the containers of every registry: they exist once the singletons are
	 * instantiated, and none is started before this, the first phase.
	 */
	@Override
	public void start() {
		JmsListenerContainers containers = this.containers.get();
		ListableBeanFactory beanFactory = this.beanFactory;
		if (containers != null && beanFactory != null) {
			beanFactory.getBeanProvider(JmsListenerEndpointRegistry.class).orderedStream().forEach(containers::track);
		}
		this.running = true;
	}

	@Override
	public void stop() {
		this.running = false;
	}

	@Override
	public boolean isRunning() {
		return this.running;
	}

	@Override
	public int getPhase() {
		return Integer.MIN_VALUE;
	}

}
