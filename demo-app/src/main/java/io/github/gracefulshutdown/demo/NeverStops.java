package io.github.gracefulshutdown.demo;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * A lifecycle bean in phase {@code Integer.MAX_VALUE} whose {@code stop(Runnable)}
 * returns at once and never calls back, as a container whose consumer thread is stuck
 * may: Spring waits for the phase's timeout, then goes on, and the bean is still running
 * as the context closes. Off unless {@code demo.never-stops=true}.
 */
@Component
@ConditionalOnBooleanProperty("demo.never-stops")
class NeverStops implements SmartLifecycle {

	private static final Log logger = LogFactory.getLog(NeverStops.class);

	private volatile boolean running;

	@Override
	public void start() {
		this.running = true;
	}

	@Override
	public void stop(Runnable callback) {
		// Deliberately never calls back, and stays running.
		logger.info("NeverStops: asked to stop; it will never call back");
	}

	@Override
	public void stop() {
		logger.info("NeverStops: asked to stop; it will never stop");
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
