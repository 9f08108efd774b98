package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.jms.JmsListenerContainers;
import io.github.gracefulshutdown.jms.JmsListenerTracking;
import jakarta.jms.Message;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.jms.listener.DefaultMessageListenerContainer;

/**
 * Auto-configuration that makes Spring JMS listener containers a participant of the one
 * shutdown: every {@link DefaultMessageListenerContainer}, of {@code @JmsListener}
 * methods or declared as a bean, stops receiving as the shutdown starts (unless
 * {@code graceful-shutdown.stop-consuming=after-drain-delay}) and finishes its messages
 * in flight inside the deadline, each one counted.
 */
@AutoConfiguration(after = GracefulShutdownAutoConfiguration.class)
@ConditionalOnClass({ DefaultMessageListenerContainer.class, Message.class })
@ConditionalOnBooleanProperty(name = "graceful-shutdown.enabled", matchIfMissing = true)
@ConditionalOnBean(ShutdownCoordinator.class)
public final class GracefulShutdownJmsAutoConfiguration {

	@Bean
	@ConditionalOnMissingBean
	JmsListenerContainers jmsListenerContainers(GracefulShutdownProperties properties) {
		return new JmsListenerContainers(properties.getStopConsuming().atShutdownStart());
	}

	@Bean
	@ConditionalOnMissingBean
	static JmsListenerTracking jmsListenerTracking(ObjectProvider<JmsListenerContainers> containers) {
		// A post-processor is created before most beans: the participant is asked for at
		// the first container.
		return new JmsListenerTracking(containers);
	}

}
