package io.github.gracefulshutdown.demo;

import java.time.Duration;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;

/**
 * A warm-up (filling a cache, say) that runs on {@link ApplicationReadyEvent} before
 * every other listener of that event, the starter's, which starts the
 * {@code @Background} jobs, included. It holds them back by {@code demo.warm-up}, so a
 * test can send SIGTERM at a known moment of the window between "the context is ready"
 * and "the jobs have started". Off unless {@code demo.warm-up} is set.
 */
@Component
@ConditionalOnProperty("demo.warm-up")
@Order(Ordered.HIGHEST_PRECEDENCE)
class WarmUp implements ApplicationListener<ApplicationReadyEvent> {

	private static final Log logger = LogFactory.getLog(WarmUp.class);

	private final Duration duration;

	WarmUp(@Value("${demo.warm-up}") Duration duration) {
		this.duration = duration;
	}

	@Override
	public void onApplicationEvent(ApplicationReadyEvent event) {
		logger.info("Warming up for " + this.duration.toMillis() + " ms before the other ApplicationReadyEvent listeners");
		Work.perform(this.duration);
		logger.info("Warmed up");
	}

}
