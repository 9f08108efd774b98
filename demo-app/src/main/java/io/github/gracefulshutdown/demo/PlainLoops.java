package io.github.gracefulshutdown.demo;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.stereotype.Component;

/**
 * The ledger jobs as people write them without the starter, for the side-by-side
 * benchmark: plain threads started when the application is ready, stopped from
 * {@code destroy()} with a flag and an interrupt. Off unless
 * {@code demo.plain-loops.enabled=true}.
 */
@Component
@ConditionalOnBooleanProperty("demo.plain-loops.enabled")
class PlainLoops implements ApplicationListener<ApplicationReadyEvent>, DisposableBean {

	private final Journal journal;

	private final Duration lightUnit;

	private final Duration heavyUnit;

	private final Duration pause;

	private final List<Thread> threads = new CopyOnWriteArrayList<>();

	private volatile boolean running = true;

	PlainLoops(Journal journal, @Value("${demo.light.unit:2s}") Duration lightUnit,
			@Value("${demo.heavy.unit:15s}") Duration heavyUnit, @Value("${demo.pause:200ms}") Duration pause) {
		this.journal = journal;
		this.lightUnit = lightUnit;
		this.heavyUnit = heavyUnit;
		this.pause = pause;
	}

	@Override
	public void onApplicationEvent(ApplicationReadyEvent event) {
		start("ledger-sync", this.lightUnit);
		start("ledger-rebuild", this.heavyUnit);
	}

	private void start(String job, Duration unit) {
		Thread thread = new Thread(() -> {
			int n = 0;
			while (this.running) {
				if (!this.journal.unit(job, String.valueOf(++n), unit)) {
					return;
				}
				try {
					Thread.sleep(this.pause.toMillis());
				}
				catch (InterruptedException ex) {
					return;
				}
			}
		}, "plain-" + job);
		this.threads.add(thread);
		thread.start();
	}

	@Override
	public void destroy() {
		this.running = false;
		this.threads.forEach(Thread::interrupt);
	}

}
