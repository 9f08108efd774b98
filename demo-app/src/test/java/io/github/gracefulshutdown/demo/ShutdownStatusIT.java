package io.github.gracefulshutdown.demo;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.github.gracefulshutdown.web.RawHttp.Outcome;
import io.github.gracefulshutdown.web.RawHttp.Outcome.Kind;
import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * End to end over real HTTP: the demo app as a separate JVM with the actuator on a
 * management port of its own. Before SIGTERM, {@code /actuator/shutdown-status} shows
 * {@code RUNNING}, the two background jobs and a tracked import with its progress, and
 * the {@code graceful.shutdown.*} meters are listed. After SIGTERM, with a slow request
 * and the import in flight, the endpoint keeps answering on the management port while
 * the main port refuses new connections: it shows {@code DRAINING} with the deadline,
 * the time left, the request in flight and the import {@code STOPPING} with its
 * progress, until the sequence has ended.
 */
class ShutdownStatusIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	/** The one deadline, {@code spring.lifecycle.timeout-per-shutdown-phase}. */
	private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(10);

	/** What the JVM may take beyond the deadline to exit. */
	private static final Duration EXIT_MARGIN = Duration.ofSeconds(3);

	/** The shortest time between two polls of the endpoint. */
	private static final long POLL_INTERVAL_MS = 100;

	private static final int IMPORT_ROWS = 40;

	private static final long SLOW_MS = 3000;

	private static final String STATUS_PATH = "/actuator/shutdown-status";

	private static final Pattern PROGRESS_LINE = Pattern.compile("draining: .*import-1 \\d+%.* s left");

	/** The coordinator's line as the sequence ends, before the rest of the context closes. */
	private static final String SEQUENCE_ENDED = "Shutdown sequence ended in ";

	private static final Pattern LOG_TIMESTAMP = Pattern.compile("^(\\S+)\\s");

	private static final JsonMapper JSON = JsonMapper.builder()
		.disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
		.build();

	@TempDir
	Path tempDir;

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void statusEndpointOnTheManagementPortFollowsTheWholeShutdown() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		int managementPort = E2eFixture.freePort();
		ExecutorService client = Executors.newSingleThreadExecutor((task) -> {
			Thread thread = new Thread(task, "slow-client");
			thread.setDaemon(true);
			return thread;
		});
		try (DemoProcess app = DemoProcess.start("shutdown-status",
				List.of("--demo.journal=" + journal, "--server.port=0", "--management.server.port=" + managementPort,
						"--spring.lifecycle.timeout-per-shutdown-phase=10s", "--demo.import.row=100ms",
						"--demo.heavy.unit=2s", E2eFixture.WEB_DRAIN_DEBUG))) {
			app.awaitLine("Started 2 background jobs: [", STARTUP_TIMEOUT);
			// Both Tomcats log 'started on port N (http)': the management one with the port we chose.
			app.awaitLine("the management Tomcat's 'started on port " + managementPort + "' line",
					(line) -> DemoProcess.tomcatPort(line) == managementPort, Duration.ofSeconds(5));
			int port = DemoProcess.tomcatPort(app.awaitLine("the main Tomcat's 'started on port' line",
					(line) -> DemoProcess.tomcatPort(line) > 0 && DemoProcess.tomcatPort(line) != managementPort,
					Duration.ofSeconds(5)));
			SoftAssertions softly = new SoftAssertions();

			// (1) Before SIGTERM: RUNNING, the two background jobs, then a tracked import with progress.
			Outcome runningOutcome = get(managementPort, STATUS_PATH);
			softly.assertThat(runningOutcome.isStatus(200)).as("status before SIGTERM: " + runningOutcome).isTrue();
			Status running = runningOutcome.isStatus(200) ? parse(runningOutcome) : Status.NONE;
			softly.assertThat(running.state()).as("state before SIGTERM: " + running).isEqualTo("RUNNING");
			for (String name : List.of("ledger-sync", "ledger-rebuild")) {
				softly.assertThat(running.job(name))
					.as("background job " + name + " before SIGTERM: " + running)
					.hasValueSatisfying((job) -> {
						softly.assertThat(job.kind()).as(name + " kind").isEqualTo("BACKGROUND");
						softly.assertThat(job.state()).as(name + " state").isEqualTo("RUNNING");
					});
			}
			softly.assertThat(running.activeJobsByKind()).as("active jobs by kind before SIGTERM: " + running)
				.containsEntry("BACKGROUND", 2L);

			Outcome importStarted = Outcome.of(() -> {
				try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(5))) {
					return connection.post("/imports?rows=" + IMPORT_ROWS);
				}
			});
			softly.assertThat(importStarted.isStatus(202)).as("POST /imports: " + importStarted).isTrue();
			softly.assertThat(importStarted.body()).as("POST /imports: " + importStarted).contains("\"import-1\"");
			Status withImport = awaitStatus(managementPort, (status) -> status.job("import-1")
				.map((job) -> job.progress() != null)
				.orElse(false), Duration.ofSeconds(5));
			softly.assertThat(withImport.state()).as("state with the import: " + withImport).isEqualTo("RUNNING");
			softly.assertThat(withImport.job("import-1")).as("import-1 before SIGTERM: " + withImport)
				.hasValueSatisfying((job) -> {
					softly.assertThat(job.kind()).as("import-1 kind").isEqualTo("TRACKED");
					softly.assertThat(job.state()).as("import-1 state").isEqualTo("RUNNING");
					softly.assertThat(job.progress()).as("import-1 progress").isNotNull();
					if (job.progress() != null) {
						softly.assertThat(job.progress().total()).as("import-1 total").isEqualTo((long) IMPORT_ROWS);
						softly.assertThat(job.progress().done()).as("import-1 done").isBetween(0L, (long) IMPORT_ROWS);
						softly.assertThat(job.progress().percent()).as("import-1 percent").isBetween(0, 100);
					}
				});
			softly.assertThat(withImport.activeJobsByKind()).as("active jobs by kind with the import: " + withImport)
				.containsEntry("BACKGROUND", 2L)
				.containsEntry("TRACKED", 1L);

			Outcome metricsOutcome = get(managementPort, "/actuator/metrics");
			softly.assertThat(metricsOutcome.isStatus(200)).as("/actuator/metrics: " + metricsOutcome).isTrue();
			List<String> meters = metricsOutcome.isStatus(200) ? meterNames(metricsOutcome) : List.of();
			List<String> ourMeters = meters.stream().filter((name) -> name.startsWith("graceful.shutdown.")).toList();
			softly.assertThat(ourMeters).as("graceful.shutdown.* meters in " + meters)
				.contains("graceful.shutdown.jobs.active", "graceful.shutdown.state");

			List<String> startupLines = app.lines();
			softly.assertThat(startupLines).as("startup log lines mentioning 'Endpoint ID'")
				.noneMatch((line) -> line.contains("Endpoint ID"));

			// (2) A slow request in flight, then SIGTERM; poll the status until it stops answering.
			Future<Outcome> slow = client.submit(() -> Outcome.of(() -> {
				try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(20))) {
					return connection.get("/slow?ms=" + SLOW_MS);
				}
			}));
			app.awaitJournal(journal, "the slow request in flight", (read) -> E2eFixture.unfinished(read, "slow") == 1,
					Duration.ofSeconds(10));

			app.sigterm();
			long sigtermNanos = System.nanoTime();
			long sigtermEpochMillis = app.sigtermEpochMillis();

			List<Poll> polls = new ArrayList<>();
			Outcome mainPortProbe = null;
			String stateBeforeProbe = null;
			boolean aliveAfterProbe = false;
			int probeAfterPolls = -1;
			long loopEnd = sigtermNanos + SHUTDOWN_TIMEOUT.plus(EXIT_MARGIN).plusSeconds(5).toNanos();
			String stoppedBecause = "the loop's bound passed";
			while (System.nanoTime() - loopEnd < 0) {
				if (!app.isAlive()) {
					stoppedBecause = "the process exited";
					break;
				}
				long pollStart = System.nanoTime();
				Outcome outcome = get(managementPort, STATUS_PATH);
				long answeredAt = System.currentTimeMillis() - sigtermEpochMillis;
				Poll poll = new Poll(answeredAt, outcome, outcome.isStatus(200) ? parse(outcome) : null);
				polls.add(poll);
				if (outcome.kind() != Kind.RESPONSE) {
					stoppedBecause = app.isAlive() ? "the endpoint stopped answering" : "the process exited";
					break;
				}
				if (mainPortProbe == null
						&& app.lines().stream().anyMatch((line) -> line.contains(E2eFixture.STOPPED_ACCEPTING))) {
					// Once the main connector is paused, a new connection to the main port must fail.
					stateBeforeProbe = (poll.status() != null) ? poll.status().state() : "HTTP " + outcome.brief();
					mainPortProbe = get(port, "/hello");
					aliveAfterProbe = app.isAlive();
					probeAfterPolls = polls.size();
				}
				long sleepMs = POLL_INTERVAL_MS - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - pollStart);
				if (sleepMs > 0) {
					Thread.sleep(sleepMs);
				}
			}

			Duration exitTime = app.awaitExit(SHUTDOWN_TIMEOUT.plus(EXIT_MARGIN).plusSeconds(10));
			Outcome slowOutcome = slow.get(10, TimeUnit.SECONDS);
			List<String> lines = app.lines();
			String context = "\npolls:\n" + describe(polls) + app.tail(60);
			String summary = E2eFixture.summary(lines, context);
			long summaryAt = logTime(summary) - sigtermEpochMillis;
			// The verdict comes once the context has closed, after the management child: the
			// endpoint must answer until the sequence has ended, which its own line says.
			String sequenceEnd = lines.stream().filter((line) -> line.contains(SEQUENCE_ENDED)).findFirst().orElse(null);
			long sequenceEndAt = (sequenceEnd != null) ? logTime(sequenceEnd) - sigtermEpochMillis : -1;
			long progressLines = lines.stream().filter((line) -> PROGRESS_LINE.matcher(line).find()).count();

			List<Poll> answered = polls.stream().filter((poll) -> poll.outcome().kind() == Kind.RESPONSE).toList();
			List<Poll> ok = answered.stream().filter((poll) -> poll.status() != null).toList();
			List<Poll> draining = ok.stream().filter((poll) -> "DRAINING".equals(poll.status().state())).toList();
			List<String> states = new ArrayList<>();
			for (Poll poll : ok) {
				if (states.isEmpty() || !states.get(states.size() - 1).equals(poll.status().state())) {
					states.add(poll.status().state());
				}
			}
			long maxInFlightRequests = ok.stream()
				.map((poll) -> poll.status().inFlightRequests())
				.filter((value) -> value != null)
				.mapToLong(Long::longValue)
				.max()
				.orElse(-1);
			List<Integer> stoppingPercents = draining.stream()
				.map((poll) -> poll.status().job("import-1").orElse(null))
				.filter((job) -> job != null && "STOPPING".equals(job.state()) && job.progress() != null
						&& job.progress().percent() != null)
				.map((job) -> job.progress().percent())
				.toList();
			// DRAINING is published just before the token is cancelled: how often jobs still read RUNNING then.
			long drainingWithRunningJobs = draining.stream()
				.filter((poll) -> poll.status().jobs() != null
						&& poll.status().jobs().stream().anyMatch((job) -> "RUNNING".equals(job.state())))
				.count();
			Poll lastAnswer = answered.isEmpty() ? null : answered.get(answered.size() - 1);
			Path pollsFile = app.logFile().resolveSibling(app.logFile().getFileName() + ".polls.txt");
			Files.writeString(pollsFile, "SIGTERM at " + Instant.ofEpochMilli(sigtermEpochMillis) + "\n" + describe(polls));
			Poll unreachable = polls.isEmpty() || polls.get(polls.size() - 1).outcome().kind() == Kind.RESPONSE ? null
					: polls.get(polls.size() - 1);

			System.out.printf("E2E-METRIC shutdown-status: states=%s, pollsAnsweredDuringShutdown=%d/%d (200: %d,"
					+ " DRAINING: %d), firstDrainingAt=+%s ms, lastAnswerAt=+%s ms, endpointUnreachable=%s,"
					+ " stoppedPolling=%s, sequenceEndAt=+%d ms, summaryAt=+%d ms, maxInFlightRequests=%d,"
					+ " import-1 STOPPING percents=%s,"
					+ " drainingPollsWithRunningJobs=%d,"
					+ " mainPortProbe=%s in %s ms (state before: %s), slowRequest=%s, progressLines=%d,"
					+ " exitAfterSigterm=%d ms, exitValue=%d%n",
					states, answered.size(), polls.size(), ok.size(), draining.size(),
					draining.isEmpty() ? "-" : draining.get(0).atMillis(),
					(lastAnswer != null) ? lastAnswer.atMillis() : "-",
					(unreachable != null) ? unreachable.outcome().brief() + " at +" + unreachable.atMillis() + " ms" : "no",
					stoppedBecause, sequenceEndAt, summaryAt, maxInFlightRequests, percentRange(stoppingPercents),
					drainingWithRunningJobs,
					(mainPortProbe != null) ? mainPortProbe.brief() : "not probed",
					(mainPortProbe != null) ? mainPortProbe.elapsed().toMillis() : "-", stateBeforeProbe,
					slowOutcome.brief(), progressLines, exitTime.toMillis(), app.exitValue());

			// The endpoint answered throughout the sequence, on the management port.
			softly.assertThat(ok).as("polls answered with 200 during shutdown").isNotEmpty();
			softly.assertThat(answered).as("every answer during shutdown is a 200 with a status")
				.allMatch((poll) -> poll.status() != null);
			softly.assertThat(draining).as("polls that showed DRAINING").isNotEmpty();
			for (Poll poll : draining) {
				Status status = poll.status();
				softly.assertThat(status.startedAt()).as("startedAt while DRAINING: " + status).isNotNull();
				softly.assertThat(status.deadline()).as("deadline while DRAINING: " + status).isNotNull();
				softly.assertThat(status.timeLeft()).as("timeLeft while DRAINING: " + status).isNotNull();
				if (status.timeLeft() != null) {
					softly.assertThat(Duration.parse(status.timeLeft()))
						.as("timeLeft while DRAINING: " + status)
						.isBetween(Duration.ZERO, SHUTDOWN_TIMEOUT);
				}
			}
			softly.assertThat(maxInFlightRequests).as("inFlightRequests at some poll while the slow request ran")
				.isGreaterThanOrEqualTo(1);
			softly.assertThat(stoppingPercents).as("import-1 listed as STOPPING with a progress percent while DRAINING")
				.isNotEmpty();
			if (stoppingPercents.size() > 1) {
				softly.assertThat(stoppingPercents.get(stoppingPercents.size() - 1))
					.as("import-1 progress advances while draining: " + stoppingPercents)
					.isGreaterThan(stoppingPercents.get(0));
			}
			softly.assertThat(sequenceEnd).as("the line '" + SEQUENCE_ENDED + "...'").isNotNull();
			if (unreachable != null && sequenceEnd != null) {
				// The management child context closes only after the sequence has ended.
				softly.assertThat(unreachable.atMillis())
					.as("the endpoint stopped answering (" + unreachable.outcome()
							+ ") only after the sequence ended, logged at +" + sequenceEndAt + " ms")
					.isGreaterThanOrEqualTo(sequenceEndAt);
			}

			// Meanwhile the main port refuses new connections.
			softly.assertThat(mainPortProbe).as("a probe of the main port once Tomcat stopped accepting").isNotNull();
			if (mainPortProbe != null) {
				softly.assertThat(mainPortProbe.kind()).as("a new connection to the main port: " + mainPortProbe)
					.isIn(EnumSet.of(Kind.REFUSED, Kind.EOF, Kind.RESET));
				softly.assertThat(stateBeforeProbe).as("status just before the main-port probe").isEqualTo("DRAINING");
				softly.assertThat(aliveAfterProbe).as("the app was still running after the main-port probe").isTrue();
				softly.assertThat(polls.size()).as("polls after the main-port probe (the endpoint still answered)")
					.isGreaterThan(probeAfterPolls);
			}
			softly.assertThat(slowOutcome.isStatus(200)).as("the slow request in flight at SIGTERM: " + slowOutcome)
				.isTrue();

			// The process exits in time, with the summary and progress lines.
			softly.assertThat(exitTime).as("exit time after SIGTERM").isLessThan(SHUTDOWN_TIMEOUT.plus(EXIT_MARGIN));
			softly.assertThat(summary).as("summary").contains("Graceful shutdown COMPLETED");
			softly.assertThat(progressLines).as("progress lines matching " + PROGRESS_LINE).isGreaterThanOrEqualTo(1);
			E2eFixture.assertAll(softly, context);
		}
		finally {
			client.shutdownNow();
		}
	}


	private static Outcome get(int port, String path) {
		return Outcome.of(() -> {
			try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(1), Duration.ofSeconds(2))) {
				return connection.get(path);
			}
		});
	}

	/**
	 * Polls the status, at most every {@value #POLL_INTERVAL_MS} ms, until it satisfies
	 * the condition or the timeout passes.
	 * @return the first status that satisfies it, or the last one read
	 */
	private static Status awaitStatus(int port, Predicate<Status> condition, Duration timeout)
			throws InterruptedException {
		long deadline = System.nanoTime() + timeout.toNanos();
		Status last = Status.NONE;
		while (System.nanoTime() - deadline < 0) {
			Outcome outcome = get(port, STATUS_PATH);
			if (outcome.isStatus(200)) {
				last = parse(outcome);
				if (condition.test(last)) {
					return last;
				}
			}
			Thread.sleep(POLL_INTERVAL_MS);
		}
		return last;
	}

	private static Status parse(Outcome outcome) {
		try {
			return JSON.readValue(outcome.body(), Status.class);
		}
		catch (JacksonException ex) {
			throw new AssertionError("Not a shutdown status: " + outcome, ex);
		}
	}

	private static List<String> meterNames(Outcome outcome) {
		try {
			Meters meters = JSON.readValue(outcome.body(), Meters.class);
			return (meters.names() != null) ? meters.names() : List.of();
		}
		catch (JacksonException ex) {
			throw new AssertionError("Not a list of meters: " + outcome, ex);
		}
	}

	/**
	 * Returns the epoch millis of a log line's leading ISO-8601 timestamp (Spring Boot's
	 * default pattern), or {@link Long#MAX_VALUE} if it has none.
	 */
	private static long logTime(String line) {
		Matcher matcher = LOG_TIMESTAMP.matcher(line);
		if (!matcher.find()) {
			return Long.MAX_VALUE;
		}
		try {
			return OffsetDateTime.parse(matcher.group(1)).toInstant().toEpochMilli();
		}
		catch (DateTimeParseException ex) {
			try {
				return Instant.parse(matcher.group(1)).toEpochMilli();
			}
			catch (DateTimeParseException ignored) {
				return Long.MAX_VALUE;
			}
		}
	}

	private static String percentRange(List<Integer> percents) {
		return percents.isEmpty() ? "none"
				: percents.get(0) + "%->" + percents.get(percents.size() - 1) + "% (" + percents.size() + " polls)";
	}

	private static String describe(List<Poll> polls) {
		StringBuilder text = new StringBuilder();
		for (Poll poll : polls) {
			text.append("  +").append(poll.atMillis()).append(" ms: ");
			if (poll.status() == null) {
				text.append(poll.outcome());
			}
			else {
				Status status = poll.status();
				text.append(status.state())
					.append(" timeLeft=")
					.append(status.timeLeft())
					.append(" inFlightRequests=")
					.append(status.inFlightRequests())
					.append(" jobs=");
				if (status.jobs() != null) {
					for (Job job : status.jobs()) {
						text.append(job.name()).append(':').append(job.state());
						if (job.progress() != null) {
							text.append('(').append(job.progress().percent()).append("%)");
						}
						text.append(' ');
					}
				}
				text.append("stragglers=").append(status.stragglers());
			}
			text.append('\n');
		}
		return text.toString();
	}

	/**
	 * One poll of the endpoint during shutdown.
	 *
	 * @param atMillis when it ended, in millis after SIGTERM
	 * @param outcome what happened
	 * @param status the parsed status, if the answer was a 200
	 */
	record Poll(long atMillis, Outcome outcome, Status status) {
	}

	/**
	 * The endpoint's answer. Enums are kept as strings so that a new value fails an
	 * assertion, not the parsing.
	 */
	record Status(String state, String startedAt, String elapsed, String deadline, String timeLeft,
			Long inFlightRequests, Map<String, Long> inFlight, Integer activeJobs, Integer jobCount,
			Map<String, Long> activeJobsByKind, List<JobGroup> jobGroups, List<Job> jobs, List<Straggler> stragglers) {

		static final Status NONE = new Status(null, null, null, null, null, null, Map.of(), null, null, Map.of(),
				List.of(), List.of(), List.of());

		Optional<Job> job(String name) {
			return (this.jobs != null) ? this.jobs.stream().filter((job) -> name.equals(job.name())).findFirst()
					: Optional.empty();
		}

	}

	record Job(String name, String kind, String state, String startedAt, Progress progress) {
	}

	record Progress(Long done, Long total, Integer percent, String message) {
	}

	record JobGroup(String name, String kind, Long count) {
	}

	record Straggler(String name, String age) {
	}

	/** The answer of {@code /actuator/metrics}. */
	record Meters(List<String> names) {
	}

}
