package io.github.gracefulshutdown.demo;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.demo.JournalFile.Span;
import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * End to end: {@code @Async} and {@code @Scheduled} work at SIGTERM. Three notifications
 * queued by {@code POST /notify?count=3} are ASYNC jobs named {@code notifier.send}; a
 * report run is a SCHEDULED job named {@code reports.report}; a slow request is in
 * flight too. A real SIGTERM waits for all of it: every unit that started ends, at full
 * length, and no report run starts once draining has begun, although the scheduler
 * would have started one before the notifications ended.
 */
class AsyncAndScheduledIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final long ASYNC_MS = 3000;

	private static final long REPORT_MS = 1500;

	private static final long REPORT_DELAY_MS = 500;

	private static final long SLOW_MS = 1500;

	// Between the Draining line and the token's cancellation, on a loaded machine.
	private static final long DRAINING_MARGIN_MS = 100;

	@TempDir
	Path tempDir;

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void sigtermAwaitsAsyncAndScheduledWorkAndStartsNoNewScheduledRun() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		ExecutorService clients = Executors.newSingleThreadExecutor((task) -> {
			Thread thread = new Thread(task, "slow-client");
			thread.setDaemon(true);
			return thread;
		});
		try (DemoProcess app = DemoProcess.start("async-scheduled",
				List.of("--demo.journal=" + journal, "--demo.async.unit=" + ASYNC_MS + "ms",
						"--demo.scheduled.delay=" + REPORT_DELAY_MS + "ms", "--demo.scheduled.unit=" + REPORT_MS + "ms",
						"--demo.light.unit=500ms", "--demo.heavy.unit=1s",
						"--spring.lifecycle.timeout-per-shutdown-phase=15s", "--server.port=0",
						"--logging.level.io.github.gracefulshutdown.task=debug"))) {
			int port = app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine("Started 2 background jobs: [", STARTUP_TIMEOUT);
			// Warms both paths up (the client's too), so that what follows takes milliseconds:
			// the report run below must still be in flight at SIGTERM.
			RawHttp.Outcome warmUp = E2eFixture.get(port, "/slow?ms=1");
			HttpResponse<String> warmUpPost = E2eFixture.post(port, "/notify?count=0");

			// A report run that has just begun: more than 1.2 s of it left.
			app.awaitJournal(journal, "a report run that began less than 300 ms ago", (read) -> read.spans("report")
				.stream()
				.anyMatch((span) -> !span.ended() && System.currentTimeMillis() - span.start() < 300),
					Duration.ofSeconds(15));
			HttpResponse<String> queued = E2eFixture.post(port, "/notify?count=3");
			Future<RawHttp.Outcome> slow = clients.submit(() -> E2eFixture.get(port, "/slow?ms=" + SLOW_MS));
			app.awaitJournal(journal, "the slow request in flight", (read) -> read.hasUnfinished("slow"),
					Duration.ofSeconds(5));
			JsonNode before = E2eFixture.shutdownStatus(port);

			long sigtermAt = app.sigterm();
			Duration exitTime = app.awaitExit(Duration.ofSeconds(25));
			RawHttp.Outcome slowOutcome = slow.get(10, TimeUnit.SECONDS);

			JournalFile units = JournalFile.read(journal);
			List<String> lines = app.lines();
			String context = "\n" + units + "\n" + app.tail(60);
			int drainingIndex = E2eFixture.indexOf(lines, "Draining ", 0);
			String draining = (drainingIndex >= 0) ? lines.get(drainingIndex) : null;
			long drainingAt = (draining != null) ? E2eFixture.logMillis(draining) : sigtermAt;
			List<Span> notify = units.spans("notify");
			List<Span> reports = units.spans("report");
			List<Span> reportsInFlight = reports.stream().filter((span) -> span.inFlightAt(sigtermAt)).toList();
			List<Span> reportsAfterDraining = reports.stream()
				.filter((span) -> span.start() > drainingAt + DRAINING_MARGIN_MS)
				.toList();
			long notifyInFlight = notify.stream().filter((span) -> span.inFlightAt(sigtermAt)).count();
			long lastReportEnd = reports.stream().filter(Span::ended).mapToLong(Span::end).max().orElse(-1);
			long lastNotifyEnd = notify.stream().filter(Span::ended).mapToLong(Span::end).max().orElse(-1);
			boolean skipLogged = lines.stream().anyMatch((line) -> line.contains("Not starting @Scheduled"));
			List<JsonNode> asyncJobs = E2eFixture.jobs(before, "notifier.send");
			List<JsonNode> scheduledJobs = E2eFixture.jobs(before, "reports.report");
			System.out.printf("E2E-METRIC async-scheduled: exitAfterSigterm=%d ms, notifyUnits=%d (inFlightAtSigterm=%d),"
					+ " reportUnits=%d (inFlightAtSigterm=%d, begunBeforeSigterm=%d ms), reportStartsAfterDraining=%d,"
					+ " nextReportDueBeforeLastNotifyEnd=%s, scheduledSkipLogged=%s, slowRequest=%s,"
					+ " endpointAsyncJobs=%d, endpointScheduledJobs=%d, exitValue=%d%n", exitTime.toMillis(),
					notify.size(), notifyInFlight, reports.size(), reportsInFlight.size(),
					reportsInFlight.isEmpty() ? -1 : sigtermAt - reportsInFlight.get(0).start(), reportsAfterDraining.size(),
					lastReportEnd + REPORT_DELAY_MS < lastNotifyEnd, skipLogged, slowOutcome.brief(), asyncJobs.size(),
					scheduledJobs.size(), app.exitValue());

			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(warmUp.isStatus(200)).as("warm-up request: " + warmUp).isTrue();
			softly.assertThat(warmUpPost.statusCode()).as("warm-up POST /notify?count=0: " + warmUpPost.body())
				.isEqualTo(202);
			softly.assertThat(queued.statusCode()).as("POST /notify?count=3: " + queued.body()).isEqualTo(202);
			softly.assertThat(queued.body()).as("POST /notify?count=3").contains("\"queued\":3");
			softly.assertThat(asyncJobs).as("notifier.send jobs listed before SIGTERM: " + before).hasSize(3);
			softly.assertThat(asyncJobs).as("notifier.send jobs' kind")
				.allMatch((job) -> "ASYNC".equals(E2eFixture.text(job, "kind")));
			softly.assertThat(scheduledJobs).as("reports.report job listed before SIGTERM: " + before).hasSize(1);
			softly.assertThat(scheduledJobs).as("reports.report job's kind")
				.allMatch((job) -> "SCHEDULED".equals(E2eFixture.text(job, "kind")));

			softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
			softly.assertThat(notify).as("notify units (3 queued)").hasSize(3);
			softly.assertThat(notifyInFlight).as("notify units in flight at SIGTERM").isPositive();
			softly.assertThat(notify).as("every notify unit ran its full " + ASYNC_MS + " ms")
				.allMatch((span) -> span.ended() && span.end() - span.start() >= ASYNC_MS - 20);
			softly.assertThat(reportsInFlight).as("report runs in flight at SIGTERM").hasSize(1);
			softly.assertThat(reports).as("every report run ran its full " + REPORT_MS + " ms")
				.allMatch((span) -> span.ended() && span.end() - span.start() >= REPORT_MS - 20);
			softly.assertThat(draining).as("the Draining line").isNotNull();
			softly.assertThat(reportsAfterDraining).as("report runs started after the Draining line (" + drainingAt
					+ " + " + DRAINING_MARGIN_MS + " ms)").isEmpty();
			// Otherwise the check above proves nothing: a run was due before the app could exit.
			softly.assertThat(lastReportEnd + REPORT_DELAY_MS)
				.as("the next report run was due (last report END + delay) before the last notify END ("
						+ lastNotifyEnd + ")")
				.isLessThan(lastNotifyEnd);

			softly.assertThat(slowOutcome.isStatus(200)).as("the slow request in flight at SIGTERM: " + slowOutcome)
				.isTrue();
			softly.assertThat(slowOutcome.body()).as("the slow request's body").isEqualTo("{\"slept\":" + SLOW_MS + "}");
			softly.assertThat(units.spans("slow").stream().anyMatch((span) -> span.inFlightAt(sigtermAt)))
				.as("the slow request was in flight at SIGTERM")
				.isTrue();

			softly.assertThat(E2eFixture.summary(lines, context)).as("summary")
				.contains("Graceful shutdown COMPLETED")
				.contains("1 request drained")
				.contains("0 stragglers");
			softly.assertThat(exitTime).as("exit time after SIGTERM").isLessThan(Duration.ofSeconds(10));
			E2eFixture.assertAll(softly, context);
		}
		finally {
			clients.shutdownNow();
		}
	}

}
