package io.github.gracefulshutdown.demo;

import java.time.Duration;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Profile;
import org.springframework.jms.annotation.JmsListener;
import org.springframework.stereotype.Component;

/**
 * A {@code @JmsListener} on an Artemis queue, under the {@code jms} profile: each
 * message, whose text is its id, is one unit of work in the journal. On Spring Boot's
 * listener container factory the session is transacted, so a message is acknowledged
 * only once the listener has returned.
 * <p>
 * At SIGTERM the starter stops the container from receiving; the messages in the
 * listener finish and are committed, and those the client had prefetched go back to
 * the queue for the next instance. A message cut short at the deadline (its thread
 * interrupted) throws, so the container rolls it back and the broker redelivers it.
 */
@Component
@Profile("jms")
class OrderListener {

	private final Journal journal;

	private final Duration work;

	OrderListener(Journal journal, @Value("${demo.jms.work:2s}") Duration work) {
		this.journal = journal;
		this.work = work;
	}

	// Two consumers from the start ("2-2", not "2", which starts one and adds the second
	// on demand), so that the broker spreads the messages over both.
	@JmsListener(id = "orders", destination = "${demo.jms.queue}", concurrency = "${demo.jms.concurrency:2-2}")
	void onOrder(String id) {
		if (!this.journal.unit("orders", id, this.work)) {
			// Cleared, as catching an InterruptedException would, so the rollback that
			// follows reaches the broker.
			Thread.interrupted();
			throw new IllegalStateException("Order " + id + " was cut short; rolled back for redelivery");
		}
	}

}
