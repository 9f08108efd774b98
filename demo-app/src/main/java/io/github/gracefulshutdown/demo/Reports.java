package io.github.gracefulshutdown.demo;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * A {@code @Scheduled} task: each run is a tracked job, and no new run starts once
 * shutdown has begun.
 */
@Component
@ConditionalOnBooleanProperty(name = "demo.scheduled.enabled", matchIfMissing = true)
class Reports {

	private final Journal journal;

	private final Duration unit;

	private final AtomicInteger runs = new AtomicInteger();

	Reports(Journal journal, @Value("${demo.scheduled.unit:1s}") Duration unit) {
		this.journal = journal;
		this.unit = unit;
	}

	@Scheduled(fixedDelayString = "${demo.scheduled.delay:3s}", initialDelayString = "${demo.scheduled.initial-delay:1s}")
	void report() {
		this.journal.unit("report", String.valueOf(this.runs.incrementAndGet()), this.unit);
	}

}
