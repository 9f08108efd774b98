package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import io.github.gracefulshutdown.demo.JournalFile.Span;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * End to end: the demo app as a separate JVM gets a real SIGTERM while a long ledger unit
 * is in flight, finishes every unit it began and exits soon after the last one ends.
 */
class GracefulShutdownIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	@TempDir
	Path tempDir;

	@Test
	void sigtermFinishesEveryUnitInFlightAndExitsPromptly() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		try (DemoProcess app = DemoProcess.start("graceful",
				List.of("--demo.journal=" + journal, "--demo.light.unit=800ms", "--demo.heavy.unit=3s",
						"--spring.lifecycle.timeout-per-shutdown-phase=15s", "--server.port=0"))) {
			app.awaitLine("Started 2 background jobs: [", STARTUP_TIMEOUT);
			app.awaitJournal(journal, "a ledger-rebuild unit in flight", (read) -> read.hasUnfinished("ledger-rebuild"),
					Duration.ofSeconds(20));

			long sigtermAt = app.sigterm();
			Duration exitTime = app.awaitExit(Duration.ofSeconds(15));

			JournalFile units = JournalFile.read(journal);
			String context = "\n" + units + "\n" + app.tail(40);
			assertThat(units.unfinished()).as("units cut in half" + context).isEmpty();
			assertThat(units.spans("ledger-rebuild")).as("ledger-rebuild units" + context).isNotEmpty();
			assertThat(units.spans("ledger-sync")).as("ledger-sync units" + context).isNotEmpty();

			List<String> lines = app.lines();
			assertThat(lines).as("output" + context).anyMatch((line) -> line.contains("Draining ")
					&& line.contains("within 15.00 s"));
			String summary = E2eFixture.summary(lines, context);
			assertThat(summary).as("summary" + context)
				.contains("Graceful shutdown COMPLETED")
				.contains("2 jobs stopped")
				.contains("0 stragglers");

			// What shutdown had to wait for: the unit still in flight at SIGTERM that ended last.
			List<Span> inFlight = units.spans().stream().filter((span) -> span.inFlightAt(sigtermAt)).toList();
			assertThat(inFlight).as("units in flight at SIGTERM (" + sigtermAt + ")" + context).isNotEmpty();
			Span longest = inFlight.stream()
				.max((a, b) -> Long.compare(a.end(), b.end()))
				.orElseThrow();
			Duration remaining = Duration.ofMillis(longest.end() - sigtermAt);
			Duration overhead = exitTime.minus(remaining);
			long startedAfterSigterm = units.spans().stream().filter((span) -> span.start() > sigtermAt).count();
			System.out.printf("E2E-METRIC graceful: exitAfterSigterm=%d ms, longestInFlight=%s, remainingAtSigterm=%d ms,"
					+ " overhead=%d ms, unitsInFlightAtSigterm=%d, unitsStartedAfterSigterm=%d, exitValue=%d%n",
					exitTime.toMillis(), longest.key(), remaining.toMillis(), overhead.toMillis(), inFlight.size(),
					startedAfterSigterm, app.exitValue());

			assertThat(exitTime).as("exit time after SIGTERM" + context).isLessThan(Duration.ofSeconds(15));
			assertThat(overhead).as("exit time beyond the last unit in flight (exit " + exitTime + ", remaining "
					+ remaining + ")" + context).isLessThan(Duration.ofSeconds(3));
		}
	}

}
