package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.demo.JournalFile.Span;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end: the demo app as a worker without a web server. It stays up while its
 * background jobs run (on JDK 21+ they run on virtual threads, which are daemons: the
 * starter's keep-alive thread must hold the JVM), and a real SIGTERM in the middle of a
 * unit runs the same sequence as with a web server: readiness refuses traffic, the
 * jobs are drained, every unit ends, and the summary names no requests.
 */
class WorkerIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final Duration HEAVY_UNIT = Duration.ofSeconds(2);

	private static final Duration LIGHT_UNIT = Duration.ofMillis(500);

	private static final Duration STAY_UP = Duration.ofSeconds(3);

	@TempDir
	Path tempDir;

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void workerStaysUpWhileItsJobsRunAndDrainsThemOnSigterm() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		try (DemoProcess app = DemoProcess.start("worker",
				List.of("--demo.journal=" + journal, "--spring.main.web-application-type=none",
						"--demo.heavy.unit=" + HEAVY_UNIT.toMillis() + "ms",
						"--demo.light.unit=" + LIGHT_UNIT.toMillis() + "ms",
						"--spring.lifecycle.timeout-per-shutdown-phase=10s",
						// No @Scheduled runs: the jobs in flight are exactly the two ledger jobs.
						"--demo.scheduled.enabled=false",
						"--logging.level.org.springframework.boot.availability=debug"))) {
			app.awaitLine("Started 2 background jobs: [", STARTUP_TIMEOUT);
			long startedNanos = System.nanoTime();

			// Stays up: main() has returned long ago, and nothing else holds the JVM.
			Thread.sleep(STAY_UP.toMillis());
			boolean aliveAfterStayUp = app.isAlive();
			boolean shutDownOnItsOwn = app.lines().stream().anyMatch((line) -> line.contains("Draining "));
			long stayedUpMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedNanos);
			if (!aliveAfterStayUp || shutDownOnItsOwn) {
				throw new AssertionError("The worker did not stay up while its jobs run: alive=" + aliveAfterStayUp
						+ ", shutdown began on its own=" + shutDownOnItsOwn + " (" + stayedUpMillis
						+ " ms after the jobs started)\n" + JournalFile.read(journal) + "\n" + app.tail(60));
			}

			// Mid-unit: a ledger-rebuild unit that began at most 500 ms ago (1.5 s of it left).
			app.awaitJournal(journal, "a fresh ledger-rebuild unit in flight", (read) -> read.spans("ledger-rebuild")
				.stream()
				.anyMatch((span) -> !span.ended() && System.currentTimeMillis() - span.start() < 500),
					Duration.ofSeconds(10));
			long sigtermAt = app.sigterm();
			Duration exitTime = app.awaitExit(Duration.ofSeconds(20));

			JournalFile units = JournalFile.read(journal);
			List<String> lines = app.lines();
			String context = "\n" + units + "\n" + app.tail(40);
			List<Span> inFlight = units.spans().stream().filter((span) -> span.inFlightAt(sigtermAt)).toList();
			long lastEnd = units.spans()
				.stream()
				.filter(Span::ended)
				.mapToLong(Span::end)
				.max()
				.orElse(sigtermAt);
			long overhead = exitTime.toMillis() - (lastEnd - sigtermAt);
			int readiness = E2eFixture.indexOf(lines, "ReadinessState changed from ACCEPTING_TRAFFIC to REFUSING_TRAFFIC",
					0);
			int draining = E2eFixture.indexOf(lines, "Draining ", 0);
			String drainingLine = (draining >= 0) ? lines.get(draining) : "(none)";
			System.out.printf("E2E-METRIC worker: stayedUp=%d ms (alive=%s), exitAfterSigterm=%d ms,"
					+ " unitsInFlightAtSigterm=%d, overheadAfterLastUnit=%d ms, exitValue=%d, virtualThreads=%s%n",
					stayedUpMillis, aliveAfterStayUp, exitTime.toMillis(), inFlight.size(), overhead, app.exitValue(),
					Runtime.version().feature() >= 21);

			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(lines).as("no web server").noneMatch((line) -> line.contains("Tomcat started"));
			softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
			softly.assertThat(inFlight).as("units in flight at SIGTERM (" + sigtermAt + ")")
				.anyMatch((span) -> span.key().job().equals("ledger-rebuild"));
			// Work.perform returns early when interrupted: a full-length unit was not cut short.
			softly.assertThat(units.spans("ledger-rebuild"))
				.as("every ledger-rebuild unit ran its full " + HEAVY_UNIT.toMillis() + " ms")
				.allMatch((span) -> span.end() - span.start() >= HEAVY_UNIT.toMillis() - 20);
			if (draining >= 0) {
				// The token is cancelled right after the Draining line; 100 ms for a loaded machine.
				long drainingAt = E2eFixture.logMillis(drainingLine);
				softly.assertThat(units.spans().stream().filter((span) -> span.start() > drainingAt + 100))
					.as("units started after the Draining line (" + drainingAt + ")")
					.isEmpty();
			}
			softly.assertThat(readiness).as("readiness changed to REFUSING_TRAFFIC (logged at debug)")
				.isGreaterThanOrEqualTo(0);
			softly.assertThat(draining).as("a Draining line").isGreaterThanOrEqualTo(0);
			if (readiness >= 0 && draining >= 0) {
				softly.assertThat(readiness).as("readiness refused traffic before draining").isLessThan(draining);
			}
			softly.assertThat(drainingLine).as("Draining line")
				.contains("Draining 2 jobs (")
				.contains("within 10.00 s")
				.doesNotContain("request");
			softly.assertThat(E2eFixture.summary(lines, context)).as("summary")
				.contains("Graceful shutdown COMPLETED")
				.contains(": 2 jobs stopped, 0 stragglers")
				.doesNotContain("request");
			softly.assertThat(exitTime).as("exit time after SIGTERM").isLessThan(Duration.ofSeconds(10));
			softly.assertThat(overhead).as("exit time beyond the last unit's end (ms)").isLessThan(3000);
			E2eFixture.assertAll(softly, context);
		}
	}

}
