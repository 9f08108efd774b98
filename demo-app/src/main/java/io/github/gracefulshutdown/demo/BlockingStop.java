package io.github.gracefulshutdown.demo;

import java.time.Duration;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * A lifecycle bean in phase {@code Integer.MAX_VALUE}, where message listener containers
 * and the gRPC server stop, whose {@code stop()} blocks for {@code demo.blocking-stop}, as
 * a client whose close waits on a broker that is gone may. Spring calls the default
 * {@code stop(Runnable)}, which calls {@code stop()} on the thread that closes the
 * context: no phase timeout cuts it short, only the watchdog bounds it. Off unless
 * {@code demo.blocking-stop} is set.
 */
@Component
@ConditionalOnProperty("demo.blocking-stop")
class BlockingStop implements SmartLifecycle {

	private static final Log logger = LogFactory.getLog(BlockingStop.class);

	private final Duration duration;

	private volatile boolean running;

	BlockingStop(@Value("${demo.blocking-stop}") Duration duration) {
		this.duration = duration;
	}

	@Override
	public void start() {
		this.running = true;
	}

	@Override
	public void stop() {
		logger.info("BlockingStop: stopping, which blocks for " + this.duration.toMillis() + " ms");
		boolean completed = Work.perform(this.duration);
		this.running = false;
		logger.info("BlockingStop: " + (completed ? "stopped" : "interrupted while stopping"));
	}

	@Override
	public boolean isRunning() {
		return this.running;
	}

	@Override
	public int getPhase() {
		return Integer.MAX_VALUE;
	}

}
