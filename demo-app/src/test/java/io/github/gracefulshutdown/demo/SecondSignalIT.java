package io.github.gracefulshutdown.demo;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.github.gracefulshutdown.demo.JournalFile.Span;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end: a second signal while the graceful sequence runs. With
 * {@code graceful-shutdown.second-signal=halt} it abandons the work and halts the process
 * at once with 128 + the signal's number; by default (the test's process is not a
 * terminal) it is ignored and the sequence runs to its end.
 */
class SecondSignalIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final Pattern ABANDONING = Pattern
		.compile("second signal: abandoning (?:\\d+ requests?, )?(\\d+) jobs?\\b.* \\((SIG[A-Z]+) while shutting down\\); "
				+ "halting now");

	// Published after ApplicationReadyEvent, whose listener installs the second-signal handler.
	private static final String READY = "ReadinessState changed to ACCEPTING_TRAFFIC";

	@TempDir
	Path tempDir;

	private static List<String> args(Path journal, Duration heavyUnit, String... more) {
		List<String> args = new ArrayList<>(List.of("--demo.journal=" + journal,
				"--demo.heavy.unit=" + heavyUnit.toMillis() + "ms", "--demo.light.unit=500ms",
				"--demo.scheduled.enabled=false", "--spring.lifecycle.timeout-per-shutdown-phase=20s",
				"--server.port=0", "--logging.level.org.springframework.boot.availability=debug"));
		args.addAll(List.of(more));
		return args;
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void secondSigtermHaltsAtOnceWhenConfigured() throws Exception {
		haltsOnSecondSignal("second-signal-term", "TERM", 143);
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void sigintAfterSigtermHaltsAtOnceWhenConfigured() throws Exception {
		haltsOnSecondSignal("second-signal-int", "INT", 130);
	}

	private void haltsOnSecondSignal(String name, String second, int expectedStatus) throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		try (DemoProcess app = DemoProcess.start(name,
				args(journal, Duration.ofSeconds(8), "--graceful-shutdown.second-signal=halt"))) {
			long pid = E2eFixture.pid(app);
			app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine(READY, STARTUP_TIMEOUT);
			if (second.equals("INT")) {
				// A shell without job control starts background commands with SIGINT ignored;
				// the JVM then takes no SIGINT handler at all and the test could prove nothing.
				Assumptions.assumeFalse(ignores(pid, 2), "SIGINT is ignored in this environment (pid " + pid + ")");
			}
			app.awaitJournal(journal, "a ledger-rebuild unit in flight", (read) -> read.hasUnfinished("ledger-rebuild"),
					Duration.ofSeconds(10));

			long firstAt = app.sigterm();
			long firstNanos = System.nanoTime();
			app.awaitLine("Draining ", Duration.ofSeconds(10));
			// Well into the wait for the 8 s unit.
			Thread.sleep(500);
			boolean aliveAtSecond = app.isAlive();
			long secondAt = second.equals("TERM") ? app.sigterm() : E2eFixture.kill(pid, second);
			long secondNanos = System.nanoTime();
			Duration exitAfterSecond;
			if (second.equals("TERM")) {
				// sigterm() restarted the clock: measured from the second signal.
				exitAfterSecond = app.awaitExit(Duration.ofSeconds(20));
			}
			else {
				exitAfterSecond = E2eFixture.awaitOwnExit(app, Duration.ofSeconds(20));
			}
			long exitAfterFirst = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - firstNanos);

			JournalFile units = JournalFile.read(journal);
			List<String> lines = app.lines();
			String context = "\n" + units + "\n" + app.tail(60);
			String abandoning = lines.stream()
				.filter((line) -> ABANDONING.matcher(line).find())
				.findFirst()
				.orElse(null);
			Matcher matcher = (abandoning != null) ? ABANDONING.matcher(abandoning) : null;
			boolean matched = matcher != null && matcher.find();
			int exitValue = app.exitValue();
			System.out.printf("E2E-METRIC %s: exitAfterSecondSignal=%d ms, exitAfterFirst=%d ms,"
					+ " secondSignalAfterFirst=%d ms, abandoned=%s, unfinishedUnits=%d, exitValue=%d%n", name,
					exitAfterSecond.toMillis(), exitAfterFirst, secondAt - firstAt, matched ? matcher.group(1) : "-",
					units.unfinished().size(), exitValue);

			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(aliveAtSecond).as("alive when the second signal was sent").isTrue();
			softly.assertThat(abandoning).as("the second-signal line").isNotNull();
			if (matched) {
				softly.assertThat(matcher.group(2)).as("the signal named").isEqualTo("SIG" + second);
				softly.assertThat(Long.parseLong(matcher.group(1))).as("jobs abandoned").isGreaterThanOrEqualTo(1);
			}
			softly.assertThat(exitValue).as("exit status").isEqualTo(expectedStatus);
			softly.assertThat(exitAfterSecond).as("exit time after the second signal")
				.isLessThan(Duration.ofSeconds(2));
			int summary = E2eFixture.summaryIndex(lines);
			softly.assertThat(summary)
				.as("no summary: the sequence was abandoned" + ((summary >= 0) ? "; found: " + lines.get(summary) : ""))
				.isEqualTo(-1);
			// The 8 s unit was still running: halting abandoned it.
			softly.assertThat(units.spans("ledger-rebuild")).as("the ledger-rebuild unit in flight was abandoned")
				.anyMatch((span) -> !span.ended());
			E2eFixture.assertAll(softly, context);
		}
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void secondSigtermIsIgnoredByDefault() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		Duration heavyUnit = Duration.ofSeconds(5);
		try (DemoProcess app = DemoProcess.start("second-signal-default", args(journal, heavyUnit))) {
			app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine(READY, STARTUP_TIMEOUT);
			app.awaitJournal(journal, "a fresh ledger-rebuild unit in flight", (read) -> read.spans("ledger-rebuild")
				.stream()
				.anyMatch((span) -> !span.ended() && System.currentTimeMillis() - span.start() < 1000),
					Duration.ofSeconds(15));

			long firstAt = app.sigterm();
			long firstNanos = System.nanoTime();
			app.awaitLine("Draining ", Duration.ofSeconds(10));
			Thread.sleep(300);
			long secondAt = app.sigterm();
			Thread.sleep(1000);
			boolean aliveAfterSecond = app.isAlive();
			// sigterm() restarted the clock: measured from the second signal.
			Duration exitAfterSecond = app.awaitExit(Duration.ofSeconds(20));
			long exitAfterFirst = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - firstNanos);

			JournalFile units = JournalFile.read(journal);
			List<String> lines = app.lines();
			String context = "\n" + units + "\n" + app.tail(60);
			Span rebuild = units.spans("ledger-rebuild")
				.stream()
				.filter((span) -> span.inFlightAt(firstAt))
				.findFirst()
				.orElse(null);
			long remainingAtSecond = (rebuild != null && rebuild.ended()) ? rebuild.end() - secondAt : -1;
			System.out.printf("E2E-METRIC second-signal-default: exitAfterFirst=%d ms, exitAfterSecond=%d ms,"
					+ " unitRemainingAtSecond=%d ms, aliveOneSecondAfterSecond=%s, exitValue=%d%n", exitAfterFirst,
					exitAfterSecond.toMillis(), remainingAtSecond, aliveAfterSecond, app.exitValue());

			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(aliveAfterSecond).as("alive 1 s after the second SIGTERM").isTrue();
			softly.assertThat(lines).as("no second-signal line")
				.noneMatch((line) -> line.contains("second signal"));
			softly.assertThat(rebuild).as("the ledger-rebuild unit in flight at the first SIGTERM").isNotNull();
			softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
			if (rebuild != null && rebuild.ended()) {
				softly.assertThat(rebuild.end() - rebuild.start()).as("that unit ran its full 5 s")
					.isGreaterThanOrEqualTo(heavyUnit.toMillis() - 20);
				softly.assertThat(exitAfterSecond.toMillis()).as("exit after the second SIGTERM (ms), not before the"
						+ " unit ended (" + remainingAtSecond + " ms later)").isGreaterThanOrEqualTo(remainingAtSecond - 50);
			}
			softly.assertThat(E2eFixture.summary(lines, context)).as("summary")
				.contains("Graceful shutdown COMPLETED")
				.contains("0 stragglers");
			softly.assertThat(app.exitValue()).as("exit status").isEqualTo(143);
			softly.assertThat(exitAfterFirst).as("exit after the first SIGTERM (ms)").isLessThan(15_000);
			E2eFixture.assertAll(softly, context);
		}
	}

	/**
	 * Whether the process ignores the signal, from {@code SigIgn} in
	 * {@code /proc/<pid>/status}.
	 */
	private static boolean ignores(long pid, int signal) throws IOException {
		Path status = Path.of("/proc", String.valueOf(pid), "status");
		if (!Files.isReadable(status)) {
			return false;
		}
		for (String line : Files.readAllLines(status)) {
			if (line.startsWith("SigIgn:")) {
				return new BigInteger(line.substring("SigIgn:".length()).trim(), 16).testBit(signal - 1);
			}
		}
		return false;
	}

}
