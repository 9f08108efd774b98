package io.github.gracefulshutdown.kafka;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The counting of one container's records, without a broker: the two holds of a record
 * whose result completes asynchronously, and the consumer thread held at the end of a
 * record while the container stops.
 */
class ListenerTrackingTests {

	private final ConsumerRecord<Object, Object> record = new ConsumerRecord<>("orders", 0, 5, "key", "value");

	@Test
	void aRecordWithAnAsynchronousResultEndsWhenBothTheListenerAndTheResultAreDoneInEitherOrder() {
		ListenerTracking tracking = new ListenerTracking("async", true);
		tracking.intercept(this.record, null);
		InFlightRecord first = tracking.current();
		assertThat(first).isNotNull();
		// The result completes before the listener call returns (a future already done).
		first.resultCompleted();
		assertThat(tracking.activeCount()).isOne();
		tracking.afterRecord(this.record, null);
		assertThat(tracking.activeCount()).isZero();

		tracking.intercept(this.record, null);
		InFlightRecord second = tracking.current();
		tracking.afterRecord(this.record, null);
		assertThat(tracking.active()).singleElement().satisfies((pending) -> {
			assertThat(pending.toInFlight().description()).isEqualTo("kafka async orders-0@5");
			assertThat(pending.toInFlight().thread()).as("no thread works on a pending result").isNull();
		});
		second.resultCompleted();
		second.resultCompleted();
		assertThat(tracking.activeCount()).isZero();
		assertThat(tracking.completedCount()).isEqualTo(2);
	}

	@Test
	void aDeliveryLeftOpenOnAThreadEndsWhenTheThreadTakesTheNextRecord() {
		ListenerTracking tracking = new ListenerTracking("sync", false);
		tracking.intercept(this.record, null);
		// No afterRecord: an interceptor before ours threw in it.
		tracking.intercept(new ConsumerRecord<>("orders", 0, 6, "key", "value"), null);
		assertThat(tracking.active()).extracting((inFlight) -> inFlight.toInFlight().description())
			.containsExactly("kafka sync orders-0@6");
		tracking.consumersEnded();
		assertThat(tracking.activeCount()).as("the consumer threads have ended").isZero();
	}

	@Test
	@Timeout(10)
	void whileTheContainerStopsTheConsumerThreadWaitsAtTheEndOfARecordForThePendingResults() throws Exception {
		ListenerTracking tracking = new ListenerTracking("async", true);
		CompletableFuture<InFlightRecord> handed = new CompletableFuture<>();
		CompletableFuture<Void> left = new CompletableFuture<>();
		tracking.stopping();
		Thread consumer = new Thread(() -> {
			tracking.intercept(this.record, null);
			handed.complete(tracking.current());
			tracking.afterRecord(this.record, null);
			left.complete(null);
		}, "consumer");
		consumer.start();
		InFlightRecord inFlight = handed.get(5, TimeUnit.SECONDS);
		await().atMost(Duration.ofSeconds(5)).until(() -> consumer.getState() == Thread.State.WAITING);
		assertThat(left).as("left the record before its result").isNotDone();

		inFlight.resultCompleted();
		left.get(5, TimeUnit.SECONDS);
		assertThat(tracking.activeCount()).isZero();
	}

	@Test
	@Timeout(10)
	void atTheDeadlineTheConsumerThreadIsLetGoWithTheResultStillInFlight() throws Exception {
		ListenerTracking tracking = new ListenerTracking("async", true);
		CompletableFuture<Void> left = new CompletableFuture<>();
		tracking.stopping();
		Thread consumer = new Thread(() -> {
			tracking.intercept(this.record, null);
			tracking.afterRecord(this.record, null);
			left.complete(null);
		}, "consumer");
		consumer.start();
		await().atMost(Duration.ofSeconds(5)).until(() -> consumer.getState() == Thread.State.WAITING);
		assertThat(tracking.whenResultsCompleteOrReleased()).isNotDone();

		tracking.release();
		left.get(5, TimeUnit.SECONDS);
		assertThat(tracking.whenResultsCompleteOrReleased()).isDone();
		assertThat(tracking.active()).as("still in flight, and listed").hasSize(1);
	}

}
