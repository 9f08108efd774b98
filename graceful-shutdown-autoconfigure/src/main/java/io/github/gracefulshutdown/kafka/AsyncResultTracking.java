package io.github.gracefulshutdown.kafka;

import java.time.Duration;

import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jspecify.annotations.Nullable;

import org.springframework.kafka.listener.ListenerType;
import org.springframework.kafka.listener.MessageListener;
import org.springframework.kafka.listener.adapter.AbstractDelegatingMessageListenerAdapter;
import org.springframework.kafka.listener.adapter.AsyncRepliesAware;
import org.springframework.kafka.support.Acknowledgment;

/**
 * Wraps a record listener whose results complete after it returns (a
 * {@code @KafkaListener} method returning a {@code CompletableFuture} or a {@code Mono},
 * or a listener with {@code asyncAcks}) so that each record stays in flight until its
 * result has acknowledged it: the listener is handed an {@link Acknowledgment} that, once
 * it has passed the acknowledgment on to the container, ends the record.
 * <p>
 * Spring for Apache Kafka 4.1 does not await such results when a container stops (4.2
 * adds {@code awaitAsyncResultsOnStop}, spring-kafka #4519): the container commits what
 * was acknowledged as its consumer thread leaves the poll loop, and a result completing
 * later is redelivered elsewhere. Counting them lets the drain stop the container only
 * once they have completed.
 * <p>
 * Like Spring for Apache Kafka's own delegating adapters, it is a
 * {@link org.springframework.kafka.listener.DelegatingMessageListener}: the container
 * looks through it for the listener's kind and the adapter's callbacks, and calls it
 * the way it would call the listener it wraps.
 */
final class AsyncResultTracking extends AbstractDelegatingMessageListenerAdapter<MessageListener<Object, Object>>
		implements MessageListener<Object, Object>, AsyncRepliesAware {

	private final ListenerTracking tracking;

	private final boolean asyncReplies;

	/**
	 * Wraps a listener.
	 * @param delegate the container's listener
	 * @param tracking what counts the container's records
	 */
	AsyncResultTracking(MessageListener<Object, Object> delegate, ListenerTracking tracking) {
		super(delegate);
		this.tracking = tracking;
		// The container asks the outermost listener only: answer as the wrapped one did.
		this.asyncReplies = delegate instanceof AsyncRepliesAware aware && aware.isAsyncReplies();
	}

	@Override
	public boolean isAsyncReplies() {
		return this.asyncReplies;
	}

	@Override
	public void onMessage(ConsumerRecord<Object, Object> record, @Nullable Acknowledgment acknowledgment,
			@Nullable Consumer<?, ?> consumer) {
		InFlightRecord inFlight = this.tracking.current();
		boolean acknowledges = this.delegateType == ListenerType.ACKNOWLEDGING_CONSUMER_AWARE
				|| this.delegateType == ListenerType.ACKNOWLEDGING;
		Acknowledgment tracked = (inFlight != null && acknowledgment != null && acknowledges)
				? new ResultAcknowledgment(acknowledgment, inFlight) : acknowledgment;
		try {
			switch (this.delegateType) {
				case ACKNOWLEDGING_CONSUMER_AWARE -> this.delegate.onMessage(record, tracked, consumer);
				case ACKNOWLEDGING -> this.delegate.onMessage(record, tracked);
				case CONSUMER_AWARE -> this.delegate.onMessage(record, consumer);
				case SIMPLE -> this.delegate.onMessage(record);
			}
		}
		catch (RuntimeException | Error ex) {
			// No result will complete it: the record ends when the listener call does.
			if (inFlight != null) {
				inFlight.resultCompleted();
			}
			throw ex;
		}
		if (inFlight != null && tracked == acknowledgment) {
			// The listener holds no acknowledgment of ours: no result can end the record later.
			inFlight.resultCompleted();
		}
	}

	@Override
	public void onMessage(ConsumerRecord<Object, Object> record, @Nullable Acknowledgment acknowledgment) {
		onMessage(record, acknowledgment, null);
	}

	@Override
	public void onMessage(ConsumerRecord<Object, Object> record, Consumer<?, ?> consumer) {
		onMessage(record, null, consumer);
	}

	@Override
	public void onMessage(ConsumerRecord<Object, Object> record) {
		onMessage(record, null, null);
	}

	/**
	 * The acknowledgment a listener is handed: once the container has it, the record is
	 * done here.
	 */
	private static final class ResultAcknowledgment implements Acknowledgment {

		private final Acknowledgment delegate;

		private final InFlightRecord inFlight;

		ResultAcknowledgment(Acknowledgment delegate, InFlightRecord inFlight) {
			this.delegate = delegate;
			this.inFlight = inFlight;
		}

		@Override
		public void acknowledge() {
			this.delegate.acknowledge();
			this.inFlight.resultCompleted();
		}

		@Override
		public void nack(Duration sleep) {
			// Redelivered later: done here, once the container has taken the nack.
			this.delegate.nack(sleep);
			this.inFlight.resultCompleted();
		}

		@Override
		public boolean isOutOfOrderCommit() {
			return this.delegate.isOutOfOrderCommit();
		}

		@Override
		public String toString() {
			return this.delegate.toString();
		}

	}

}
