package io.github.gracefulshutdown.demo;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * What the end-to-end tests share on top of {@link DemoProcess}, {@link JournalFile} and
 * {@link RawHttp}: the app's pid (for {@code kill -INT}), a process that exits on its
 * own, the log's lines and timestamps, how to see that Tomcat has stopped accepting,
 * the journal's unfinished units, {@code /actuator/shutdown-status} read as JSON, and
 * many soft checks reported as one failure with one context.
 */
final class E2eFixture {

	static final String STATUS_PATH = "/actuator/shutdown-status";

	/**
	 * Logged at debug once the connectors are paused and idle keep-alive connections are
	 * closed. The {@code Draining} line is logged just before that work starts, so seeing
	 * it alone does not mean Tomcat has stopped accepting yet.
	 */
	static final String STOPPED_ACCEPTING = "Tomcat stopped accepting connections";

	/** The argument that makes the app log {@link #STOPPED_ACCEPTING}. */
	static final String WEB_DRAIN_DEBUG = "--logging.level.io.github.gracefulshutdown.web.InFlightRequests=debug";

	/**
	 * The coordinator's summary, {@code Graceful shutdown <STATE> in ...}, not Tomcat's own
	 * {@code Graceful shutdown complete}.
	 */
	private static final Pattern SUMMARY = Pattern.compile("Graceful shutdown [A-Z_]+ in ");

	private static final Pattern PID = Pattern.compile("with PID (\\d+)");

	private E2eFixture() {
	}

	/**
	 * Returns the app's pid from Spring Boot's {@code Starting ... with PID N} line.
	 * @param app the app
	 * @return the pid
	 */
	static long pid(DemoProcess app) throws InterruptedException {
		String line = app.awaitLine("Spring Boot's 'with PID' line", (candidate) -> PID.matcher(candidate).find(),
				Duration.ofSeconds(60));
		Matcher matcher = PID.matcher(line);
		matcher.find();
		return Long.parseLong(matcher.group(1));
	}

	/**
	 * Sends a signal with {@code kill -<signal> <pid>}.
	 * @param pid the process
	 * @param signal the signal's name without {@code SIG}, such as {@code INT}
	 * @return the epoch millis at which the signal was sent
	 */
	static long kill(long pid, String signal) throws IOException, InterruptedException {
		long at = System.currentTimeMillis();
		Process kill = new ProcessBuilder("kill", "-" + signal, String.valueOf(pid)).redirectErrorStream(true).start();
		if (!kill.waitFor(10, TimeUnit.SECONDS)) {
			kill.destroyForcibly();
			throw new AssertionError("kill -" + signal + " " + pid + " did not return");
		}
		if (kill.exitValue() != 0) {
			throw new AssertionError("kill -" + signal + " " + pid + " failed with " + kill.exitValue() + ": "
					+ new String(kill.getInputStream().readAllBytes()));
		}
		return at;
	}

	/**
	 * Waits for a process that was not sent SIGTERM by the test (it shuts itself down) to
	 * exit, then for its last lines to be read.
	 * @param app the app
	 * @param timeout the longest time to wait for the exit
	 * @return how long it took from the call
	 * @throws AssertionError if the process does not exit in time, or its output does not
	 * end within 10 s of the exit
	 */
	static Duration awaitOwnExit(DemoProcess app, Duration timeout) throws InterruptedException {
		long start = System.nanoTime();
		long deadline = start + timeout.toNanos();
		while (app.isAlive()) {
			if (System.nanoTime() - deadline > 0) {
				throw new AssertionError(app + " did not exit on its own within " + timeout + "\n" + app.tail(60));
			}
			Thread.sleep(20);
		}
		Duration took = Duration.ofNanos(System.nanoTime() - start);
		// The output ends once the process is gone: the last lines (the summary) may not be read yet.
		app.awaitEndOfOutput(Duration.ofSeconds(10));
		return took;
	}

	/**
	 * Returns the epoch millis of a log line, from its leading ISO-8601 timestamp.
	 * @param line a line of Spring Boot's console log
	 * @return the epoch millis
	 */
	static long logMillis(String line) {
		String first = line.strip().split("\\s+", 2)[0];
		try {
			return OffsetDateTime.parse(first).toInstant().toEpochMilli();
		}
		catch (DateTimeParseException ex) {
			throw new AssertionError("The log line has no timestamp: '" + line + "'", ex);
		}
	}

	/**
	 * Returns the index of the first line at or after {@code from} that contains the text.
	 * @return the index, or -1 if there is none
	 */
	static int indexOf(List<String> lines, String text, int from) {
		for (int i = Math.max(0, from); i < lines.size(); i++) {
			if (lines.get(i).contains(text)) {
				return i;
			}
		}
		return -1;
	}

	/**
	 * Returns the lines, without the stack traces' {@code at ...} lines.
	 */
	static List<String> withoutFrames(List<String> lines) {
		return lines.stream().filter((line) -> !line.strip().startsWith("at ")).toList();
	}

	static long count(List<String> lines, String text) {
		return lines.stream().filter((line) -> line.contains(text)).count();
	}

	/**
	 * {@code GET} on a new connection.
	 * @param port the app's port
	 * @param path the path
	 * @return what happened
	 */
	static RawHttp.Outcome get(int port, String path) {
		return RawHttp.Outcome.of(() -> {
			try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(10))) {
				return connection.get(path);
			}
		});
	}

	/**
	 * {@code POST} with an empty body, through the JDK's client.
	 * @param port the app's port
	 * @param path the path and query
	 * @return the response
	 */
	static HttpResponse<String> post(int port, String path) throws IOException, InterruptedException {
		HttpClient client = HttpClient.newBuilder()
			.version(HttpClient.Version.HTTP_1_1)
			.connectTimeout(Duration.ofSeconds(2))
			.build();
		HttpRequest request = HttpRequest.newBuilder(URI.create("http://" + RawHttp.HOST + ":" + port + path))
			.timeout(Duration.ofSeconds(10))
			.POST(HttpRequest.BodyPublishers.noBody())
			.build();
		return client.send(request, HttpResponse.BodyHandlers.ofString());
	}

	/**
	 * Reads {@code /actuator/shutdown-status}.
	 * @param port the app's port
	 * @return the JSON answer
	 * @throws AssertionError if the answer is not a 200
	 */
	static JsonNode shutdownStatus(int port) {
		return json(port, STATUS_PATH);
	}

	/**
	 * Reads a JSON answer.
	 * @param port the app's port
	 * @param path the path
	 * @return the JSON answer
	 * @throws AssertionError if the answer is not a 200
	 */
	static JsonNode json(int port, String path) {
		RawHttp.Outcome outcome = get(port, path);
		if (!outcome.isStatus(200)) {
			throw new AssertionError("GET " + path + ": " + outcome);
		}
		return JsonMapper.shared().readTree(outcome.body());
	}

	/**
	 * Returns a port that was free a moment ago, for a server the app starts on a port
	 * given up front (a separate management server).
	 * @return the port
	 */
	static int freePort() throws IOException {
		try (ServerSocket socket = new ServerSocket(0)) {
			return socket.getLocalPort();
		}
	}

	/**
	 * Returns the jobs of the given name listed by the endpoint.
	 * @param status the endpoint's answer
	 * @param name the job's name
	 * @return the jobs
	 */
	static List<JsonNode> jobs(JsonNode status, String name) {
		List<JsonNode> jobs = new ArrayList<>();
		for (JsonNode job : status.path("jobs").values()) {
			if (name.equals(text(job, "name"))) {
				jobs.add(job);
			}
		}
		return jobs;
	}

	/**
	 * Returns a field as a string.
	 * @return the text, or {@code null} if the field is missing or null
	 */
	static String text(JsonNode node, String field) {
		JsonNode value = node.path(field);
		return (value.isMissingNode() || value.isNull()) ? null : value.asString();
	}

	/**
	 * Returns the progress message of a job listed by the endpoint.
	 * @return the message, or {@code null}
	 */
	static String progressMessage(JsonNode job) {
		JsonNode progress = job.path("progress");
		return (progress.isMissingNode() || progress.isNull()) ? null : text(progress, "message");
	}

	/**
	 * Reads the endpoint every 25 ms until it lists a job of the given name that matches.
	 * @param app the app, to fail fast if it exits
	 * @param port the app's port
	 * @param name the job's name
	 * @param description what is awaited, for the failure message
	 * @param condition the condition on the job
	 * @param timeout the longest time to wait
	 * @return the matching job
	 */
	static JsonNode awaitJob(DemoProcess app, int port, String name, String description, Predicate<JsonNode> condition,
			Duration timeout) throws InterruptedException {
		long deadline = System.nanoTime() + timeout.toNanos();
		JsonNode last = null;
		while (true) {
			if (!app.isAlive()) {
				throw new AssertionError(app + " exited while waiting for " + STATUS_PATH + " to show " + description
						+ "; last answer: " + last + "\n" + app.tail(60));
			}
			last = shutdownStatus(port);
			for (JsonNode job : jobs(last, name)) {
				if (condition.test(job)) {
					return job;
				}
			}
			if (System.nanoTime() - deadline > 0) {
				throw new AssertionError(STATUS_PATH + " did not show " + description + " within " + timeout
						+ "; last answer: " + last + "\n" + app.tail(60));
			}
			Thread.sleep(25);
		}
	}

	/**
	 * Returns how many units of the job started and have not ended.
	 * @param journal the journal
	 * @param job the job's name
	 * @return the count
	 */
	static long unfinished(JournalFile journal, String job) {
		return journal.spans(job).stream().filter((span) -> !span.ended()).count();
	}

	/**
	 * Returns the index of the coordinator's last summary line, the one way every test
	 * finds it.
	 * @param lines the app's output
	 * @return the index, or -1 if there is none
	 */
	static int summaryIndex(List<String> lines) {
		for (int i = lines.size() - 1; i >= 0; i--) {
			if (SUMMARY.matcher(lines.get(i)).find()) {
				return i;
			}
		}
		return -1;
	}

	/**
	 * Returns the coordinator's last summary line.
	 * @param lines the app's output
	 * @param context what to add to the failure message
	 * @return the line
	 * @throws AssertionError if there is none
	 */
	static String summary(List<String> lines, String context) {
		int index = summaryIndex(lines);
		if (index < 0) {
			throw new AssertionError("No summary line" + context);
		}
		return lines.get(index);
	}

	/**
	 * Fails with every failed check, numbered, followed once by the context (the journal
	 * and the app's last lines).
	 * @param softly the checks
	 * @param context what to add to the failure message
	 */
	static void assertAll(SoftAssertions softly, String context) {
		List<AssertionError> errors = softly.assertionErrorsCollected();
		if (errors.isEmpty()) {
			return;
		}
		StringBuilder message = new StringBuilder().append(errors.size()).append(" check(s) failed:");
		for (int i = 0; i < errors.size(); i++) {
			message.append('\n').append(i + 1).append(") ").append(errors.get(i).getMessage().strip());
		}
		AssertionError failure = new AssertionError(message.append(context).toString());
		errors.forEach(failure::addSuppressed);
		throw failure;
	}

}
