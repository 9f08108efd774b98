package io.github.gracefulshutdown.autoconfigure;

import java.time.Duration;

import io.github.gracefulshutdown.amqp.DeliveryCountingPostProcessor;
import io.github.gracefulshutdown.amqp.RabbitListenerDrain;
import io.github.gracefulshutdown.core.ShutdownCoordinator;

import org.springframework.amqp.rabbit.listener.AbstractMessageListenerContainer;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.context.LifecycleProperties;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.core.env.Environment;

/**
 * Auto-configuration that makes Spring AMQP's RabbitMQ listener containers a participant
 * of the one shutdown: they stop consuming as it starts, and their deliveries in flight
 * finish and are acknowledged inside the deadline, counted and named like requests and
 * jobs.
 */
@AutoConfiguration(after = GracefulShutdownAutoConfiguration.class)
@ConditionalOnBean(ShutdownCoordinator.class)
@ConditionalOnClass(AbstractMessageListenerContainer.class)
public final class GracefulShutdownRabbitAutoConfiguration {

	@Bean
	@ConditionalOnMissingBean
	RabbitListenerDrain rabbitListenerDrain(ApplicationContext context, GracefulShutdownProperties properties,
			LifecycleProperties lifecycle, Environment environment, ConfigurableListableBeanFactory beanFactory) {
		// A container closes its channels itself once this has passed: never before the
		// deadline, and no sooner than the watchdog would end the process anyway.
		Duration patience = GracefulShutdownAutoConfiguration.drainDelay(properties, environment, beanFactory)
			.value()
			.plus(GracefulShutdownAutoConfiguration.deadline(lifecycle))
			.plus(properties.getWatchdogMargin());
		return new RabbitListenerDrain(context, patience, properties.getStopConsuming().atShutdownStart());
	}

	@Bean
	static DeliveryCountingPostProcessor rabbitDeliveryCountingPostProcessor(
			ObjectProvider<RabbitListenerDrain> rabbitListenerDrain) {
		return new DeliveryCountingPostProcessor(rabbitListenerDrain);
	}

}
