package io.github.gracefulshutdown.demo;

import java.time.Duration;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.stereotype.Component;

/**
 * A resource that takes {@code demo.slow-close} to close when the context is destroyed,
 * as a connection pool may: the process lives on for that long after the graceful
 * sequence has ended. Off unless {@code demo.slow-close} is set.
 */
@Component
@ConditionalOnProperty("demo.slow-close")
class SlowClose implements DisposableBean {

	private static final Log logger = LogFactory.getLog(SlowClose.class);

	private final Duration duration;

	SlowClose(@Value("${demo.slow-close}") Duration duration) {
		this.duration = duration;
	}

	@Override
	public void destroy() {
		logger.info("Closing a slow resource: " + this.duration.toMillis() + " ms");
		Work.perform(this.duration);
		logger.info("Closed the slow resource");
	}

}
