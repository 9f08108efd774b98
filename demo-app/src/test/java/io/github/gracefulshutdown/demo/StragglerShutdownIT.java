package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * End to end: the demo app as a separate JVM, with a job that ignores the shutdown token
 * and swallows interrupts, gets a real SIGTERM. Shutdown waits for the deadline, names
 * the straggler with its thread and stack, and the process still exits; the well-behaved
 * jobs finish every unit they began.
 */
class StragglerShutdownIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final List<String> LEDGER_JOBS = List.of("ledger-sync", "ledger-rebuild");

	@TempDir
	Path tempDir;

	@Test
	void sigtermWaitsForTheDeadlineReportsTheStragglerAndExits() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		try (DemoProcess app = DemoProcess.start("straggler",
				List.of("--demo.journal=" + journal, "--demo.stubborn.enabled=true", "--demo.light.unit=500ms",
						"--demo.heavy.unit=1s", "--spring.lifecycle.timeout-per-shutdown-phase=3s",
						"--server.port=0"))) {
			String ready = app.awaitLine("Started 3 background jobs: [", STARTUP_TIMEOUT);
			assertThat(ready).contains("ledger-sync").contains("ledger-rebuild").contains("stubborn");
			app.awaitJournal(journal, "a ledger unit started", (read) -> !read.spans().isEmpty(),
					Duration.ofSeconds(20));

			app.sigterm();
			Duration exitTime = app.awaitExit(Duration.ofSeconds(3 + 7));
			System.out.printf("E2E-METRIC straggler: exitAfterSigterm=%d ms, deadline=3000 ms, exitValue=%d%n",
					exitTime.toMillis(), app.exitValue());

			JournalFile units = JournalFile.read(journal);
			List<String> lines = app.lines();
			String context = "\n" + units + "\n" + app.tail(80);

			assertThat(exitTime).as("exit time after SIGTERM" + context)
				.isGreaterThanOrEqualTo(Duration.ofMillis(2500))
				.isLessThan(Duration.ofSeconds(3 + 7));

			int report = indexOf(lines, "Shutdown deadline of 3.00 s passed with 1 straggler", 0, context);
			int straggler = indexOf(lines, "BACKGROUND job 'stubborn'", report, context);
			assertThat(lines.get(straggler)).as("straggler line" + context).contains("on thread background-stubborn");
			int frame = indexOf(lines, "StubbornJob.ignoreEveryone", straggler, context);
			assertThat(lines.get(frame).trim()).as("stack frame line" + context).startsWith("at ");

			int summaryIndex = E2eFixture.summaryIndex(lines);
			assertThat(summaryIndex).as("the summary line (-1: none), after the deadline report's frame at line " + frame
					+ context).isGreaterThan(frame);
			String summary = lines.get(summaryIndex);
			assertThat(summary).as("summary" + context)
				.contains("Graceful shutdown TIMED_OUT")
				.contains("1 straggler")
				.contains("BACKGROUND job 'stubborn'");

			for (String job : LEDGER_JOBS) {
				assertThat(units.spans(job)).as(job + " units" + context).isNotEmpty().allMatch(JournalFile.Span::ended);
			}
		}
	}

	private static int indexOf(List<String> lines, String text, int from, String context) {
		for (int i = from; i < lines.size(); i++) {
			if (lines.get(i).contains(text)) {
				return i;
			}
		}
		throw new AssertionError("No line containing \"" + text + "\" after line " + from + context);
	}

}
