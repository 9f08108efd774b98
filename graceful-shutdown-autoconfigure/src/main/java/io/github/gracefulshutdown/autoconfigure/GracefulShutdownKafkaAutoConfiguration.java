package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.kafka.KafkaListenerDrain;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.core.env.Environment;
import org.springframework.kafka.listener.MessageListenerContainer;

/**
 * Auto-configuration that makes Spring for Apache Kafka's listener containers a
 * participant of the one shutdown: their records in flight are counted and finished, and
 * their offsets committed, inside the deadline. Active when Spring for Apache Kafka is on
 * the classpath; a user's own {@link KafkaListenerDrain} bean replaces this one.
 */
@AutoConfiguration(after = GracefulShutdownAutoConfiguration.class)
@ConditionalOnBean(ShutdownCoordinator.class)
@ConditionalOnClass(MessageListenerContainer.class)
public final class GracefulShutdownKafkaAutoConfiguration {

	private static final Log logger = LogFactory.getLog(GracefulShutdownKafkaAutoConfiguration.class);

	@Bean
	@ConditionalOnMissingBean
	KafkaListenerDrain kafkaListenerDrain(ListableBeanFactory beanFactory, GracefulShutdownProperties properties,
			Environment environment) {
		if ("false".equalsIgnoreCase(environment.getProperty("spring.kafka.listener.immediate-stop"))) {
			// Said once, at startup: the setting is overridden, not silently ignored.
			logger.info("spring.kafka.listener.immediate-stop=false is overridden: graceful-shutdown stops each "
					+ "listener container after the record in hand, and what it fetched and did not process goes to "
					+ "the next instance; set graceful-shutdown.enabled=false to process the whole last poll");
		}
		return new KafkaListenerDrain(beanFactory, properties.getStopConsuming().atShutdownStart());
	}

}
