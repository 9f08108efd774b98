package io.github.gracefulshutdown.kafka;

import java.util.concurrent.atomic.AtomicInteger;

import io.github.gracefulshutdown.ShutdownParticipant.InFlight;
import io.github.gracefulshutdown.core.InFlightTracker;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * One record a listener container has in flight, from the moment it is handed to the
 * listener until the listener has returned and, for an asynchronous result, until the
 * result has completed and acknowledged the record.
 * <p>
 * Those are two holds, released once each, in whichever order they come: the consumer
 * thread releases the first when the listener returns, the thread that completes the
 * result releases the second when it acknowledges. The record ends when both are gone.
 */
final class InFlightRecord extends InFlightTracker.Entry {

	private static final int IN_LISTENER = 1;

	private static final int AWAITING_RESULT = 2;

	private final String listenerId;

	private final String topic;

	private final int partition;

	private final long offset;

	private final AtomicInteger holds;

	/**
	 * Creates a record handed to the listener on the calling (consumer) thread.
	 * @param listenerId the container's listener id
	 * @param record the record
	 * @param awaitsResult whether the listener completes it later, asynchronously
	 */
	InFlightRecord(String listenerId, ConsumerRecord<?, ?> record, boolean awaitsResult) {
		super(Thread.currentThread());
		this.listenerId = listenerId;
		this.topic = record.topic();
		this.partition = record.partition();
		this.offset = record.offset();
		this.holds = new AtomicInteger(awaitsResult ? IN_LISTENER | AWAITING_RESULT : IN_LISTENER);
	}

	/**
	 * The listener has returned, or the consumer thread that called it has ended: no
	 * thread works on the record any more.
	 */
	void listenerReturned() {
		if (release(IN_LISTENER)) {
			runOn(null);
		}
	}

	/**
	 * The asynchronous result has completed and acknowledged the record, or the listener
	 * failed before returning one.
	 */
	void resultCompleted() {
		release(AWAITING_RESULT);
	}

	private boolean release(int hold) {
		int before = this.holds.getAndUpdate((held) -> held & ~hold);
		if ((before & hold) == 0) {
			return false;
		}
		if (before == hold) {
			end(Boolean.TRUE);
		}
		return true;
	}

	/**
	 * Describes the record as the log and the endpoint name it:
	 * {@code kafka orders orders-1@42}.
	 */
	InFlight toInFlight() {
		return new InFlight("kafka " + this.listenerId + " " + this.topic + "-" + this.partition + "@" + this.offset,
				startedAt(), thread());
	}

}
