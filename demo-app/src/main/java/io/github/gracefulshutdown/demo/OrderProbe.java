package io.github.gracefulshutdown.demo;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * A lifecycle bean in phase {@code Integer.MAX_VALUE}, the first phase Spring stops, that
 * records when it runs: a journal unit {@code order-probe running} from its start to its
 * stop, and a log line as it stops. A unit that ends after the requests in flight at
 * SIGTERM shows that it was still running while they drained, as a listener container
 * in that phase must be for a request to send a message. Off unless
 * {@code demo.order-probe=true}.
 */
@Component
@ConditionalOnBooleanProperty("demo.order-probe")
class OrderProbe implements SmartLifecycle {

	static final String JOB = "order-probe";

	static final String UNIT = "running";

	private static final Log logger = LogFactory.getLog(OrderProbe.class);

	private final Journal journal;

	private volatile boolean running;

	OrderProbe(Journal journal) {
		this.journal = journal;
	}

	@Override
	public void start() {
		this.journal.start(JOB, UNIT);
		this.running = true;
	}

	@Override
	public void stop() {
		this.running = false;
		this.journal.end(JOB, UNIT);
		logger.info("OrderProbe: stopped (phase " + getPhase() + ")");
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
