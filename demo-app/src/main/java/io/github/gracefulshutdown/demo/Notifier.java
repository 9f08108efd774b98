package io.github.gracefulshutdown.demo;

import java.time.Duration;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.scheduling.annotation.Async;
import org.springframework.stereotype.Component;

/**
 * {@code @Async} work on Spring Boot's application executor: tracked by the starter from
 * submission, so a notification queued at shutdown is still sent.
 */
@Component
class Notifier {

	private final Journal journal;

	private final Duration unit;

	Notifier(Journal journal, @Value("${demo.async.unit:1500ms}") Duration unit) {
		this.journal = journal;
		this.unit = unit;
	}

	@Async
	public void send(String id) {
		this.journal.unit("notify", id, this.unit);
	}

}
