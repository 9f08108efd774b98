package io.github.gracefulshutdown.demo;

import java.time.Duration;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.stereotype.Component;

/**
 * A JVM shutdown hook of its own, outside Spring, that takes {@code demo.slow-exit-hook}
 * to run, as a telemetry exporter flushing on exit may. The JVM runs every hook at once
 * and halts when the last has ended, so the process outlives the closed context by that
 * long. Off unless {@code demo.slow-exit-hook} is set.
 */
@Component
@ConditionalOnProperty("demo.slow-exit-hook")
class SlowExitHook {

	private static final Log logger = LogFactory.getLog(SlowExitHook.class);

	SlowExitHook(@Value("${demo.slow-exit-hook}") Duration duration) {
		Runtime.getRuntime().addShutdownHook(new Thread(() -> {
			System.out.println("SlowExitHook: flushing for " + duration.toMillis() + " ms");
			Work.perform(duration);
			System.out.println("SlowExitHook: flushed");
		}, "slow-exit-hook"));
		logger.info("Registered a JVM shutdown hook that takes " + duration.toMillis() + " ms");
	}

}
