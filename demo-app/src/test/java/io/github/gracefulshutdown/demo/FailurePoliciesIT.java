package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.demo.JournalFile.Span;
import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * End to end: a {@code @Background} job named {@code flaky} that throws after
 * {@code demo.failing.after} (500 ms) per run, under each failure policy, in the demo app
 * as a separate JVM.
 * <ul>
 * <li>RESTART: restarted with a doubling, capped backoff; shown as RUNNING and
 * {@code restarting in ...} by {@code /actuator/shutdown-status}; never restarted once
 * shutdown has begun, and a SIGTERM during a long backoff ends it at once.</li>
 * <li>STOP: stopped for good and shown as FAILED, while the app keeps running and
 * serving.</li>
 * <li>SHUTDOWN: the app runs the graceful sequence on its own, the other jobs finish the
 * units they are in, and the process exits with status 1.</li>
 * </ul>
 */
class FailurePoliciesIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final String FAILURE = "IllegalStateException: the ledger service answered 500";

	@TempDir
	Path tempDir;

	private List<String> args(Path journal, String policy, String... more) {
		return args(journal, policy, Duration.ofSeconds(1), more);
	}

	private List<String> args(Path journal, String policy, Duration heavyUnit, String... more) {
		List<String> args = new ArrayList<>(List.of("--demo.journal=" + journal, "--demo.failing=" + policy,
				"--demo.failing.after=500ms", "--demo.light.unit=500ms",
				"--demo.heavy.unit=" + heavyUnit.toMillis() + "ms",
				// No @Scheduled runs: the jobs are exactly the two ledger jobs and flaky.
				"--demo.scheduled.enabled=false", "--spring.lifecycle.timeout-per-shutdown-phase=10s",
				"--server.port=0"));
		args.addAll(List.of(more));
		return args;
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void restartPolicyRestartsWithDoublingCappedBackoffAndNotOnceShutdownHasBegun() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		try (DemoProcess app = DemoProcess.start("failure-restart",
				args(journal, "restart", "--graceful-shutdown.restart-backoff.initial=200ms",
						"--graceful-shutdown.restart-backoff.max=800ms"))) {
			int port = app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine("Started 3 background jobs: [", STARTUP_TIMEOUT);

			// Polled: the job is in a backoff at most ~60% of the time.
			JsonNode restarting = E2eFixture.awaitJob(app, port, "flaky", "flaky RUNNING in a restart backoff",
					(job) -> "RUNNING".equals(E2eFixture.text(job, "state")) && String
						.valueOf(E2eFixture.progressMessage(job))
						.startsWith("restarting in"),
					Duration.ofSeconds(20));
			app.awaitLine("Background job 'flaky' failed (failure 4); restarting in 800 ms", Duration.ofSeconds(20));
			boolean aliveAfterFailures = app.isAlive();
			RawHttp.Outcome hello = E2eFixture.get(port, "/hello");
			// A ledger unit in flight, so that shutdown has something to wait for.
			app.awaitJournal(journal, "a fresh ledger-rebuild unit in flight", (read) -> read.spans("ledger-rebuild")
				.stream()
				.anyMatch((span) -> !span.ended() && System.currentTimeMillis() - span.start() < 500),
					Duration.ofSeconds(10));

			long sigtermAt = app.sigterm();
			Duration exitTime = app.awaitExit(Duration.ofSeconds(20));

			JournalFile units = JournalFile.read(journal);
			List<String> lines = app.lines();
			List<String> log = E2eFixture.withoutFrames(lines);
			String context = "\n" + units + "\n" + app.tail(60);
			long[] delays = { 200, 400, 800, 800 };
			int[] at = new int[delays.length];
			for (int i = 0; i < delays.length; i++) {
				at[i] = E2eFixture.indexOf(log, "Background job 'flaky' failed (failure " + (i + 1) + "); restarting in "
						+ delays[i] + " ms", (i > 0) ? at[i - 1] : 0);
			}
			int draining = E2eFixture.indexOf(log, "Draining ", 0);
			List<String> restartsDuringShutdown = (draining < 0) ? List.of()
					: log.subList(draining, log.size())
						.stream()
						.filter((line) -> line.contains("Background job 'flaky' failed")
								|| line.contains("restarting in"))
						.filter((line) -> !line.contains("Draining ") && !line.contains("draining: "))
						.toList();
			System.out.printf("E2E-METRIC failure-restart: failuresBeforeSigterm=%d, exitAfterSigterm=%d ms,"
					+ " restartsAfterDraining=%d, endpointFlaky=%s, exitValue=%d%n",
					E2eFixture.count(log, "Background job 'flaky' failed (failure"), exitTime.toMillis(),
					restartsDuringShutdown.size(), restarting, app.exitValue());

			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(E2eFixture.text(restarting, "kind")).as("flaky's kind").isEqualTo("BACKGROUND");
			softly.assertThat(E2eFixture.progressMessage(restarting)).as("flaky's progress")
				.matches("restarting in (200|400|800) ms after failure \\d+: .*");
			for (int i = 0; i < delays.length; i++) {
				softly.assertThat(at[i]).as("failure " + (i + 1) + " restarting in " + delays[i] + " ms, in order")
					.isGreaterThanOrEqualTo(0);
			}
			for (int i = 1; i < delays.length; i++) {
				if (at[i - 1] >= 0 && at[i] >= 0) {
					// Each failure comes at least a backoff and a 500 ms run after the one before.
					long gap = E2eFixture.logMillis(log.get(at[i])) - E2eFixture.logMillis(log.get(at[i - 1]));
					softly.assertThat(gap).as("ms between failure " + i + " and failure " + (i + 1))
						.isGreaterThanOrEqualTo(delays[i - 1] + 500 - 20);
				}
			}
			softly.assertThat(lines).as("the failure is logged with its exception")
				.anyMatch((line) -> line.contains(FAILURE));
			softly.assertThat(aliveAfterFailures).as("alive after 4 failures").isTrue();
			softly.assertThat(hello.isStatus(200)).as("/hello after 4 failures: " + hello).isTrue();
			softly.assertThat(draining).as("a Draining line").isGreaterThanOrEqualTo(0);
			softly.assertThat(restartsDuringShutdown).as("failures or restarts logged after Draining").isEmpty();
			softly.assertThat(log).as("no failure during shutdown")
				.noneMatch((line) -> line.contains("failed during shutdown"));
			softly.assertThat(E2eFixture.summary(lines, context)).as("summary")
				.contains("Graceful shutdown COMPLETED")
				.contains("0 stragglers");
			softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
			softly.assertThat(units.spans().stream().filter((span) -> span.inFlightAt(sigtermAt)))
				.as("ledger units in flight at SIGTERM")
				.isNotEmpty();
			softly.assertThat(exitTime).as("exit time after SIGTERM").isLessThan(Duration.ofSeconds(10));
			E2eFixture.assertAll(softly, context);
		}
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void sigtermDuringARestartBackoffEndsTheJobAtOnce() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		try (DemoProcess app = DemoProcess.start("failure-restart-backoff",
				args(journal, "restart", "--graceful-shutdown.restart-backoff.initial=30s",
						"--graceful-shutdown.restart-backoff.max=30s"))) {
			int port = app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine("Started 3 background jobs: [", STARTUP_TIMEOUT);
			app.awaitLine("Background job 'flaky' failed (failure 1); restarting in 30000 ms", Duration.ofSeconds(20));
			JsonNode backingOff = E2eFixture.awaitJob(app, port, "flaky", "flaky RUNNING in its 30 s backoff",
					(job) -> "RUNNING".equals(E2eFixture.text(job, "state")) && String
						.valueOf(E2eFixture.progressMessage(job))
						.startsWith("restarting in 30000 ms"),
					Duration.ofSeconds(5));

			app.sigterm();
			Duration exitTime = app.awaitExit(Duration.ofSeconds(20));

			JournalFile units = JournalFile.read(journal);
			List<String> lines = app.lines();
			String context = "\n" + units + "\n" + app.tail(60);
			System.out.printf("E2E-METRIC failure-restart-backoff: exitAfterSigterm=%d ms, endpointFlaky=%s,"
					+ " exitValue=%d%n", exitTime.toMillis(), backingOff, app.exitValue());

			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(E2eFixture.text(backingOff, "kind")).as("flaky's kind").isEqualTo("BACKGROUND");
			softly.assertThat(E2eFixture.progressMessage(backingOff)).as("flaky's progress")
				.contains("after failure 1: ")
				.contains(FAILURE);
			softly.assertThat(exitTime).as("exit time after SIGTERM (the 30 s backoff must not hold it)")
				.isLessThan(Duration.ofSeconds(5));
			softly.assertThat(lines).as("no second failure").noneMatch((line) -> line.contains("(failure 2)"));
			softly.assertThat(lines).as("no failure during shutdown")
				.noneMatch((line) -> line.contains("failed during shutdown"));
			softly.assertThat(E2eFixture.summary(lines, context)).as("summary")
				.contains("Graceful shutdown COMPLETED")
				.contains("3 jobs stopped")
				.contains("0 stragglers");
			softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
			E2eFixture.assertAll(softly, context);
		}
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void stopPolicyStopsTheJobForGoodWhileTheAppKeepsServing() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		try (DemoProcess app = DemoProcess.start("failure-stop", args(journal, "stop"))) {
			int port = app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine("Started 3 background jobs: [", STARTUP_TIMEOUT);
			String stopped = app.awaitLine("Background job 'flaky' failed; stopped by its policy (onFailure = STOP)",
					Duration.ofSeconds(20));
			JsonNode failed = E2eFixture.awaitJob(app, port, "flaky", "flaky FAILED",
					(job) -> "FAILED".equals(E2eFixture.text(job, "state")), Duration.ofSeconds(5));

			// Three more runs' worth of time: a restarted job would have failed again by then.
			int syncUnitsAtFailure = JournalFile.read(journal).spans("ledger-sync").size();
			Thread.sleep(1500);
			boolean alive = app.isAlive();
			RawHttp.Outcome hello = E2eFixture.get(port, "/hello");
			JsonNode status = E2eFixture.shutdownStatus(port);
			int syncUnitsLater = JournalFile.read(journal).spans("ledger-sync").size();

			app.sigterm();
			Duration exitTime = app.awaitExit(Duration.ofSeconds(20));

			JournalFile units = JournalFile.read(journal);
			List<String> lines = app.lines();
			String context = "\n" + units + "\n" + app.tail(60);
			System.out.printf("E2E-METRIC failure-stop: flakyAfterStop=%s, helloAfterStop=%s,"
					+ " ledgerSyncUnitsAfterStop=%d, exitAfterSigterm=%d ms, exitValue=%d%n", failed, hello.brief(),
					syncUnitsLater - syncUnitsAtFailure, exitTime.toMillis(), app.exitValue());

			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(E2eFixture.text(failed, "kind")).as("flaky's kind").isEqualTo("BACKGROUND");
			softly.assertThat(E2eFixture.count(lines, "Background job 'flaky' failed")).as("flaky's failures")
				.isEqualTo(1);
			softly.assertThat(lines).as("the failure is logged with its exception")
				.anyMatch((line) -> line.contains(FAILURE));
			softly.assertThat(lines).as("no restart").noneMatch((line) -> line.contains("restarting in"));
			softly.assertThat(E2eFixture.jobs(status, "flaky")).as("flaky 1.5 s later")
				.singleElement()
				.extracting((job) -> E2eFixture.text(job, "state"))
				.isEqualTo("FAILED");
			for (String job : List.of("ledger-sync", "ledger-rebuild")) {
				softly.assertThat(E2eFixture.jobs(status, job)).as(job + " after flaky stopped")
					.singleElement()
					.extracting((node) -> E2eFixture.text(node, "state"))
					.isEqualTo("RUNNING");
			}
			softly.assertThat(status.path("state").asString()).as("shutdown state after flaky stopped")
				.isEqualTo("RUNNING");
			softly.assertThat(alive).as("alive 1.5 s after flaky stopped").isTrue();
			softly.assertThat(hello.isStatus(200)).as("/hello after flaky stopped: " + hello).isTrue();
			softly.assertThat(syncUnitsLater).as("ledger-sync units after flaky stopped (" + stopped + ")")
				.isGreaterThan(syncUnitsAtFailure);
			softly.assertThat(E2eFixture.summary(lines, context)).as("summary")
				.contains("Graceful shutdown COMPLETED")
				.contains("2 jobs stopped")
				.contains("0 stragglers");
			softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
			softly.assertThat(exitTime).as("exit time after SIGTERM").isLessThan(Duration.ofSeconds(10));
			E2eFixture.assertAll(softly, context);
		}
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void shutdownPolicyShutsTheAppDownGracefullyWithANonZeroStatus() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		try (DemoProcess app = DemoProcess.start("failure-shutdown",
				args(journal, "shutdown", Duration.ofSeconds(2)))) {
			app.awaitHttpPort(STARTUP_TIMEOUT);
			String failed = app.awaitLine(
					"Background job 'flaky' failed; shutting the application down (onFailure = SHUTDOWN)",
					STARTUP_TIMEOUT);
			Duration exitTime = E2eFixture.awaitOwnExit(app, Duration.ofSeconds(30));

			JournalFile units = JournalFile.read(journal);
			List<String> lines = app.lines();
			List<String> log = E2eFixture.withoutFrames(lines);
			String context = "\n" + units + "\n" + app.tail(60);
			long failedAt = E2eFixture.logMillis(failed);
			List<Span> inFlight = units.spans().stream().filter((span) -> span.inFlightAt(failedAt)).toList();
			int failure = E2eFixture.indexOf(log, "shutting the application down (onFailure = SHUTDOWN)", 0);
			int draining = E2eFixture.indexOf(log, "Draining ", Math.max(failure, 0));
			int exitValue = app.exitValue();
			System.out.printf("E2E-METRIC failure-shutdown: exitAfterFailureSeen=%d ms, unitsInFlightAtFailure=%d,"
					+ " exitValue=%d%n", exitTime.toMillis(), inFlight.size(), exitValue);

			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(exitValue).as("exit status").isEqualTo(1);
			softly.assertThat(E2eFixture.count(lines, "Background job 'flaky' failed")).as("flaky's failures")
				.isEqualTo(1);
			softly.assertThat(lines).as("the failure is logged with its exception")
				.anyMatch((line) -> line.contains(FAILURE));
			softly.assertThat(draining).as("a Draining line after the failure").isGreaterThan(failure);
			softly.assertThat(E2eFixture.summary(lines, context)).as("summary")
				.contains("Graceful shutdown COMPLETED")
				.contains("0 stragglers");
			softly.assertThat(inFlight).as("units in flight when flaky failed (" + failedAt + ")")
				.anyMatch((span) -> span.key().job().equals("ledger-rebuild"));
			softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
			softly.assertThat(units.spans("ledger-rebuild")).as("every ledger-rebuild unit ran its full 2 s")
				.allMatch((span) -> span.end() - span.start() >= 2000 - 20);
			softly.assertThat(exitTime).as("exit time after the failure was seen").isLessThan(Duration.ofSeconds(10));
			E2eFixture.assertAll(softly, context);
		}
	}

}
