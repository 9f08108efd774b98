package io.github.gracefulshutdown.demo;

import java.time.Duration;

import jakarta.annotation.PreDestroy;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.stereotype.Component;

/**
 * A bean whose {@code @PreDestroy} method blocks for {@code demo.blocking-pre-destroy}, as
 * a pool that waits for a connection to come back may. It runs on the thread that closes
 * the context, after every lifecycle phase has stopped: only the watchdog bounds it. Off
 * unless {@code demo.blocking-pre-destroy} is set.
 */
@Component
@ConditionalOnProperty("demo.blocking-pre-destroy")
class BlockingPreDestroy {

	private static final Log logger = LogFactory.getLog(BlockingPreDestroy.class);

	private final Duration duration;

	BlockingPreDestroy(@Value("${demo.blocking-pre-destroy}") Duration duration) {
		this.duration = duration;
	}

	@PreDestroy
	void release() {
		logger.info("BlockingPreDestroy: releasing, which blocks for " + this.duration.toMillis() + " ms");
		boolean completed = Work.perform(this.duration);
		logger.info("BlockingPreDestroy: " + (completed ? "released" : "interrupted while releasing"));
	}

}
