package io.github.gracefulshutdown.demo;

import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;

/**
 * The executor most tutorials declare for {@code @Async}, built with {@code new} rather
 * than by Spring Boot's builder, which then backs off its own: the starter tracks it all
 * the same, so {@link Notifier}'s units are awaited at shutdown. Its one thread runs one
 * notification at a time; the others wait in its queue, and are awaited too. Off unless
 * {@code demo.own-executor.enabled=true}.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnBooleanProperty("demo.own-executor.enabled")
class OwnExecutor {

	@Bean
	ThreadPoolTaskExecutor taskExecutor() {
		return new ThreadPoolTaskExecutor();
	}

}
