package io.github.gracefulshutdown.kafka;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import io.github.gracefulshutdown.core.InFlightTracker;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.jspecify.annotations.Nullable;

import org.springframework.kafka.listener.BatchInterceptor;
import org.springframework.kafka.listener.RecordInterceptor;

/**
 * The records one listener container has in flight, counted by the interceptor it is:
 * the last of the container's record and batch interceptors, so that a record counts
 * only once every interceptor before has let it through to the listener. For a
 * concurrent container its child containers share it, each on its own consumer thread.
 * <p>
 * For a listener whose results complete asynchronously, {@link AsyncResultTracking}
 * holds each record open until its result has acknowledged it. While the container
 * stops, its consumer thread is then held at the end of each record until every result
 * has completed: the container commits only what has been acknowledged when its thread
 * leaves the poll loop, so a result completing after that would be redelivered.
 */
final class ListenerTracking implements RecordInterceptor<Object, Object>, BatchInterceptor<Object, Object> {

	private final String listenerId;

	private final boolean awaitsResults;

	private final InFlightTracker<InFlightRecord> records = new InFlightTracker<>();

	// What the listener was handed last on each consumer thread, until it returns.
	private final ThreadLocal<List<InFlightRecord>> delivery = new ThreadLocal<>();

	// Completed at the deadline: nothing is held for results any more.
	private final CompletableFuture<Void> released = new CompletableFuture<>();

	private volatile boolean stopping;

	/**
	 * Creates the tracking of one container.
	 * @param listenerId the container's listener id, for the records' descriptions
	 * @param awaitsResults whether its listener completes records asynchronously
	 */
	ListenerTracking(String listenerId, boolean awaitsResults) {
		this.listenerId = listenerId;
		this.awaitsResults = awaitsResults;
	}

	String listenerId() {
		return this.listenerId;
	}

	boolean awaitsResults() {
		return this.awaitsResults;
	}

	// ---- RecordInterceptor ----------------------------------------------------------

	@Override
	public ConsumerRecord<Object, Object> intercept(ConsumerRecord<Object, Object> record,
			Consumer<Object, Object> consumer) {
		List<InFlightRecord> delivered = List.of(begin(record));
		this.delivery.set(delivered);
		return record;
	}

	@Override
	public void afterRecord(ConsumerRecord<Object, Object> record, Consumer<Object, Object> consumer) {
		listenerReturned();
		if (this.awaitsResults && this.stopping) {
			awaitResults();
		}
	}

	// ---- BatchInterceptor -----------------------------------------------------------

	@Override
	public ConsumerRecords<Object, Object> intercept(ConsumerRecords<Object, Object> records,
			Consumer<Object, Object> consumer) {
		List<InFlightRecord> delivered = new ArrayList<>(records.count());
		for (ConsumerRecord<Object, Object> record : records) {
			delivered.add(begin(record));
		}
		this.delivery.set(delivered);
		return records;
	}

	@Override
	public void success(ConsumerRecords<Object, Object> records, Consumer<Object, Object> consumer) {
		listenerReturned();
	}

	@Override
	public void failure(ConsumerRecords<Object, Object> records, Exception exception,
			Consumer<Object, Object> consumer) {
		listenerReturned();
	}

	// ---- Counting -------------------------------------------------------------------

	private InFlightRecord begin(ConsumerRecord<?, ?> record) {
		// A delivery still open on this thread was left without its end (an interceptor
		// before ours threw in afterRecord): the thread has moved on, so it has returned.
		listenerReturned();
		InFlightRecord inFlight = new InFlightRecord(this.listenerId, record, this.awaitsResults);
		// Never sealed, so never refused: a record handed to the listener runs, counted.
		this.records.begin(inFlight);
		return inFlight;
	}

	private void listenerReturned() {
		List<InFlightRecord> delivered = this.delivery.get();
		if (delivered != null) {
			this.delivery.remove();
			delivered.forEach(InFlightRecord::listenerReturned);
		}
	}

	/**
	 * Returns the record the listener is being handed on this thread, if one is.
	 */
	@Nullable InFlightRecord current() {
		List<InFlightRecord> delivered = this.delivery.get();
		return (delivered != null && delivered.size() == 1) ? delivered.get(0) : null;
	}

	private void awaitResults() {
		try {
			CompletableFuture.anyOf(this.records.whenEmpty(), this.released).get();
		}
		catch (InterruptedException ex) {
			// Told to give up: the container stops with what has been acknowledged.
			Thread.currentThread().interrupt();
		}
		catch (ExecutionException ex) {
			// Neither future ever fails.
			throw new IllegalStateException(ex.getCause());
		}
	}

	// ---- The drain ------------------------------------------------------------------

	/**
	 * The container is stopping: from now on its consumer thread waits at the end of a
	 * record for the results still pending.
	 */
	void stopping() {
		this.stopping = true;
	}

	/**
	 * Returns a stage that completes once no record is in flight, or at the deadline.
	 */
	CompletableFuture<?> whenResultsCompleteOrReleased() {
		return CompletableFuture.anyOf(this.records.whenEmpty(), this.released);
	}

	/**
	 * Returns a stage that completes once no record is in flight.
	 */
	CompletableFuture<Void> whenEmpty() {
		return this.records.whenEmpty();
	}

	/**
	 * The deadline has passed: holds nothing for results any more.
	 */
	void release() {
		this.released.complete(null);
	}

	/**
	 * Every consumer thread of the container has ended, so no listener call is left;
	 * results still pending stay in flight.
	 */
	void consumersEnded() {
		this.records.collect().forEach(InFlightRecord::listenerReturned);
	}

	List<InFlightRecord> active() {
		return this.records.collect();
	}

	long activeCount() {
		return this.records.activeCount();
	}

	long completedCount() {
		return this.records.completedCount();
	}

}
