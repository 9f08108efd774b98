package io.github.gracefulshutdown.demo;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.github.gracefulshutdown.demo.JournalFile.Span;
import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * End to end, issue 12: the application declares its own executor as tutorials do,
 * {@code @Bean ThreadPoolTaskExecutor taskExecutor() { return new ThreadPoolTaskExecutor(); }}
 * ({@code demo.own-executor.enabled=true}), so Spring Boot's builder never sees it and
 * backs off its own, and {@code @Async} runs on it. Three notifications submitted over
 * HTTP, one running on its one thread and two in its queue, meet a real SIGTERM: all three
 * are awaited inside the deadline (every START has an END, at full length), the status
 * endpoint on the management port lists them as {@code ASYNC} jobs while draining, the
 * summary line counts them, and Spring's lifecycle finds no executor still running.
 */
class OwnExecutorIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final long ASYNC_MS = 1500;

	private static final int NOTIFICATIONS = 3;

	private static final Pattern JOBS_STOPPED = Pattern.compile("(\\d+) jobs? stopped");

	@TempDir
	Path tempDir;

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void sigtermAwaitsAsyncWorkOnTheApplicationsOwnExecutor() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		int managementPort = E2eFixture.freePort();
		try (DemoProcess app = DemoProcess.start("own-executor",
				List.of("--demo.journal=" + journal, "--demo.own-executor.enabled=true",
						"--demo.async.unit=" + ASYNC_MS + "ms", "--demo.scheduled.enabled=false",
						"--demo.light.unit=300ms", "--demo.heavy.unit=500ms",
						"--spring.lifecycle.timeout-per-shutdown-phase=15s", "--server.port=0",
						"--management.server.port=" + managementPort,
						"--management.endpoints.web.exposure.include=shutdownStatus,beans"))) {
			app.awaitLine("the management Tomcat's 'started on port " + managementPort + "' line",
					(line) -> DemoProcess.tomcatPort(line) == managementPort, STARTUP_TIMEOUT);
			int port = DemoProcess.tomcatPort(app.awaitLine("the main Tomcat's 'started on port' line",
					(line) -> DemoProcess.tomcatPort(line) > 0 && DemoProcess.tomcatPort(line) != managementPort,
					STARTUP_TIMEOUT));
			app.awaitLine("Started 2 background jobs: [", STARTUP_TIMEOUT);
			JsonNode beans = E2eFixture.json(managementPort, "/actuator/beans");

			HttpResponse<String> queued = E2eFixture.post(port, "/notify?count=" + NOTIFICATIONS);
			// The first runs, the others wait in the executor's queue: SIGTERM now.
			app.awaitJournal(journal, "the first notification started", (read) -> !read.spans("notify").isEmpty(),
					Duration.ofSeconds(10));
			JsonNode before = E2eFixture.json(managementPort, E2eFixture.STATUS_PATH);
			long sigtermAt = app.sigterm();

			// Until the endpoint stops answering: what it said while draining.
			List<JsonNode> draining = new ArrayList<>();
			while (app.isAlive()) {
				RawHttp.Outcome outcome = E2eFixture.get(managementPort, E2eFixture.STATUS_PATH);
				if (!outcome.isStatus(200)) {
					break;
				}
				JsonNode status = JsonMapper.shared().readTree(outcome.body());
				if ("DRAINING".equals(E2eFixture.text(status, "state"))) {
					draining.add(status);
				}
				Thread.sleep(50);
			}
			Duration exitTime = app.awaitExit(Duration.ofSeconds(30));

			JournalFile units = JournalFile.read(journal);
			List<String> lines = app.lines();
			String context = "\n" + units + "\n" + app.tail(60);
			int drainingIndex = E2eFixture.indexOf(lines, "Draining ", 0);
			long drainingAt = (drainingIndex >= 0) ? E2eFixture.logMillis(lines.get(drainingIndex)) : sigtermAt;
			List<Span> notify = units.spans("notify");
			long notifyEndedWhileDraining = notify.stream()
				.filter((span) -> span.ended() && span.end() >= drainingAt)
				.count();
			List<JsonNode> listedWhileDraining = draining.stream()
				.flatMap((status) -> E2eFixture.jobs(status, "notifier.send").stream())
				.toList();
			String summary = E2eFixture.summary(lines, context);
			Matcher stopped = JOBS_STOPPED.matcher(summary);
			long jobsStopped = stopped.find() ? Long.parseLong(stopped.group(1)) : -1;
			System.out.printf("E2E-METRIC own-executor: exitAfterSigterm=%d ms, notifyUnits=%d (endedWhileDraining=%d),"
					+ " drainingPolls=%d, notifierJobsListedWhileDraining=%d, jobsStopped=%d, exitValue=%d%n",
					exitTime.toMillis(), notify.size(), notifyEndedWhileDraining, draining.size(),
					listedWhileDraining.size(), jobsStopped, app.exitValue());

			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(beanTypes(beans)).as("the app's executors, from /actuator/beans")
				.containsEntry("taskExecutor", "org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor")
				.doesNotContainKey("applicationTaskExecutor");
			softly.assertThat(queued.statusCode()).as("POST /notify: " + queued.body()).isEqualTo(202);
			softly.assertThat(E2eFixture.jobs(before, "notifier.send")).as("notifier.send jobs before SIGTERM: " + before)
				.hasSize(NOTIFICATIONS)
				.allMatch((job) -> "ASYNC".equals(E2eFixture.text(job, "kind")));

			softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
			softly.assertThat(notify).as("notify units").hasSize(NOTIFICATIONS);
			softly.assertThat(notify).as("every notify unit ran its full " + ASYNC_MS + " ms")
				.allMatch((span) -> span.ended() && span.end() - span.start() >= ASYNC_MS - 20);
			softly.assertThat(notifyEndedWhileDraining).as("notify units that ended while draining (all were running"
					+ " or queued at SIGTERM)").isEqualTo(NOTIFICATIONS);

			softly.assertThat(draining).as("answers of the status endpoint while DRAINING").isNotEmpty();
			softly.assertThat(listedWhileDraining).as("notifier.send jobs listed while DRAINING")
				.isNotEmpty()
				.allMatch((job) -> "ASYNC".equals(E2eFixture.text(job, "kind")));
			softly.assertThat(draining.isEmpty() ? List.of() : E2eFixture.jobs(draining.get(0), "notifier.send"))
				.as("notifier.send jobs in the first DRAINING answer, two of them still queued")
				.hasSize(NOTIFICATIONS);

			softly.assertThat(summary).as("summary")
				.contains("Graceful shutdown COMPLETED")
				.contains("0 stragglers");
			softly.assertThat(jobsStopped).as("jobs stopped in the summary: the notifications and the 2 background jobs")
				.isEqualTo(NOTIFICATIONS + 2);
			softly.assertThat(lines).as("Spring's lifecycle, which cut the units when the executor was not tracked")
				.noneMatch((line) -> line.contains("still running after timeout"))
				.noneMatch((line) -> line.contains("Timed out while waiting for executor"));
			softly.assertThat(lines).as("startup warnings about untracked executors")
				.noneMatch((line) -> line.contains("is not tracked"));
			softly.assertThat(exitTime).as("exit time after SIGTERM").isLessThan(Duration.ofSeconds(12));
			softly.assertThat(app.exitValue()).as("exit status: 128 + SIGTERM, as for any JVM a signal ends").isEqualTo(143);
			E2eFixture.assertAll(softly, context);
		}
	}

	/**
	 * The beans of every context, by name, with their types.
	 */
	private static Map<String, String> beanTypes(JsonNode beans) {
		Map<String, String> types = new LinkedHashMap<>();
		for (JsonNode context : beans.path("contexts").values()) {
			for (Map.Entry<String, JsonNode> bean : context.path("beans").properties()) {
				types.put(bean.getKey(), E2eFixture.text(bean.getValue(), "type"));
			}
		}
		return types;
	}


}
