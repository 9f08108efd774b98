package io.github.gracefulshutdown.demo;

import java.time.Duration;

import org.apache.kafka.clients.consumer.ConsumerRecord;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Profile;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.stereotype.Component;

/**
 * A Kafka consumer, on with the {@code kafka} profile (application-kafka.properties): a
 * {@code @KafkaListener} with {@code demo.kafka.concurrency} consumers on the topic
 * {@code demo.kafka.topic}, one record per poll, and {@code demo.kafka.work} of work per
 * record, journaled as job {@code kafka} with the record's key as the unit. Send SIGTERM
 * while it works: the records in flight finish and are committed, and the next instance
 * in the same group gets the rest.
 */
@Component
@Profile("kafka")
class KafkaOrders {

	private final Journal journal;

	private final Duration work;

	KafkaOrders(Journal journal, @Value("${demo.kafka.work:2s}") Duration work) {
		this.journal = journal;
		this.work = work;
	}

	@KafkaListener(id = "orders", topics = "${demo.kafka.topic}", groupId = "${demo.kafka.group}",
			concurrency = "${demo.kafka.concurrency}")
	void consume(ConsumerRecord<String, String> record) {
		String id = (record.key() != null) ? record.key()
				: record.topic() + "-" + record.partition() + "@" + record.offset();
		if (!this.journal.unit("kafka", id, this.work)) {
			// Cut by an interrupt at the deadline. The interrupt was meant for the record, not
			// for the consumer thread, which still commits what finished before it.
			Thread.interrupted();
			throw new IllegalStateException("Record " + id + " was cut at the shutdown deadline; it is left "
					+ "uncommitted, for the next instance");
		}
	}

}
