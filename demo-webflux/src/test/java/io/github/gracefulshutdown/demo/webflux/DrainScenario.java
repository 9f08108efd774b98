package io.github.gracefulshutdown.demo.webflux;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.github.gracefulshutdown.demo.webflux.LongLivedClients.StreamClient;
import io.github.gracefulshutdown.demo.webflux.LongLivedClients.WebSocketClient;
import io.github.gracefulshutdown.web.RawHttp.Outcome;
import io.github.gracefulshutdown.web.RawHttp.Outcome.Kind;
import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;

/**
 * One real SIGTERM to the running WebFlux demo, with the same checks as the servlet
 * demo's {@code WebDrainIT}, plus streams and a WebSocket: bounded requests in flight,
 * each on a connection of its own, an idle keep-alive connection, an open SSE stream, an
 * open NDJSON stream and a WebSocket. The bounded requests must complete with 200 and
 * {@code Connection: close}; the streams must end cleanly and the WebSocket be closed
 * with 1001 as draining starts, long before the bounded requests end; new connections
 * must be refused (after a few served with {@code Connection: close} in the moment the
 * drain starts) and the idle connection closed by the server; the status endpoint on the
 * management port must count and name what is in flight; and the app must exit soon
 * after the last bounded request, with {@code COMPLETED} and every request counted as
 * drained.
 */
final class DrainScenario {

	static final long SLOW_MS = 1500;

	private static final long SIGTERM_AFTER_MS = 300;

	private static final String STATUS_PATH = "/actuator/shutdown-status";

	/** Logged by Spring Boot's own drain of a web server. */
	private static final String BOOT_DRAIN = "Commencing graceful shutdown";

	private static final Pattern READY = Pattern.compile("WebFlux demo ready on port (\\d+) \\((\\w+)\\)");

	private static final Pattern SLOW_STARTED = Pattern.compile("slow request started: ms=" + SLOW_MS);

	private static final Pattern SUMMARY = Pattern.compile("Graceful shutdown [A-Z_]+ in .*");

	private static final Pattern REQUESTS_DRAINED = Pattern.compile("(\\d+) requests drained");

	private static final Pattern PROGRESS = Pattern.compile("draining: .*?(\\d+) requests?");

	private static final Pattern IN_FLIGHT_REQUESTS = Pattern.compile("\"inFlightRequests\":(\\d+)");

	private static final Pattern STATE = Pattern.compile("\"state\":\"(\\w+)\"");

	private DrainScenario() {
	}

	/**
	 * Returns a port that was free a moment ago, for {@code management.server.port}.
	 */
	static int freePort() throws IOException {
		try (ServerSocket socket = new ServerSocket(0)) {
			return socket.getLocalPort();
		}
	}

	/**
	 * Runs the scenario against an app that is starting.
	 * @param name the scenario's name in the metric line
	 * @param app the app, started with {@code --server.port=0}, the given management port
	 * and a progress log interval shorter than the drain
	 * @param managementPort its management port
	 * @param slowRequests how many bounded requests to keep in flight
	 * @param expectedServer the simple class name of the web server it must run
	 * @param bootDrains how many times Spring Boot's own drain must say it commences
	 * @param softly where the checks go
	 */
	static void run(String name, AppProcess app, int managementPort, int slowRequests, String expectedServer,
			int bootDrains, SoftAssertions softly) throws Exception {
		String ready = app.awaitLine(READY, Duration.ofSeconds(60));
		if (ready == null) {
			softly.fail("The app did not become ready within 60 s (%s)", app.state());
			return;
		}
		Matcher readyMatcher = READY.matcher(ready);
		readyMatcher.find();
		int port = Integer.parseInt(readyMatcher.group(1));
		softly.assertThat(readyMatcher.group(2)).as("the web server").isEqualTo(expectedServer);
		AtomicInteger clientThreads = new AtomicInteger();
		ExecutorService clients = Executors.newFixedThreadPool(slowRequests, (task) -> {
			Thread thread = new Thread(task, name + "-slow-client-" + clientThreads.incrementAndGet());
			thread.setDaemon(true);
			return thread;
		});
		HttpClient http = HttpClient.newBuilder()
			.version(HttpClient.Version.HTTP_1_1)
			.connectTimeout(Duration.ofSeconds(2))
			.build();
		try (RawHttp idle = RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(5))) {
			// (a) A quick request on a keep-alive connection, which then stays idle.
			RawHttp.Response hello = idle.get("/hello");
			softly.assertThat(hello.status()).as("first /hello: " + hello).isEqualTo(200);
			softly.assertThat(hello.closesConnection()).as("the keep-alive connection is kept: " + hello).isFalse();

			// (b) Long-lived clients: SSE, NDJSON and a WebSocket, each seen receiving.
			StreamClient events = StreamClient.open(http, port, "/events");
			StreamClient ticks = StreamClient.open(http, port, "/ticks");
			WebSocketClient webSocket = WebSocketClient.open(http, port, "/ws");
			softly.assertThat(events.awaitFirstLine(Duration.ofSeconds(10))).as("an SSE event before SIGTERM").isTrue();
			softly.assertThat(ticks.awaitFirstLine(Duration.ofSeconds(10))).as("an NDJSON line before SIGTERM").isTrue();
			softly.assertThat(webSocket.awaitFirstMessage(Duration.ofSeconds(10)))
				.as("a WebSocket message before SIGTERM")
				.isTrue();

			// (c) Bounded requests, each on a connection of its own.
			List<Future<Outcome>> slow = new ArrayList<>();
			List<Long> slowEnds = Collections.synchronizedList(new ArrayList<>());
			for (int i = 0; i < slowRequests; i++) {
				slow.add(clients.submit(() -> {
					Outcome outcome = Outcome.of(() -> {
						try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(20))) {
							return connection.get("/slow?ms=" + SLOW_MS);
						}
					});
					slowEnds.add(System.nanoTime());
					return outcome;
				}));
			}
			long allStartedAt = System.nanoTime();
			softly.assertThat(app.awaitLines(SLOW_STARTED, slowRequests, Duration.ofSeconds(10)))
				.as(slowRequests + " slow requests started")
				.isTrue();

			// (d) The status endpoint counts and names them, streams and session included.
			Outcome running = Outcome.of(() -> getOnce(managementPort, STATUS_PATH));
			String runningBody = String.valueOf(running.body());
			softly.assertThat(group(STATE, runningBody)).as("state before SIGTERM: " + running).isEqualTo("RUNNING");
			softly.assertThat(group(IN_FLIGHT_REQUESTS, runningBody))
				.as("inFlightRequests before SIGTERM: " + running)
				.isEqualTo(String.valueOf(slowRequests + 2));
			softly.assertThat(runningBody)
				.as("what is in flight before SIGTERM")
				.contains("\"description\":\"GET /slow\"", "\"description\":\"GET /events (stream)\"",
						"\"description\":\"GET /ticks (stream)\"", "\"description\":\"WebSocket /ws\"");

			TimeUnit.NANOSECONDS.sleep(Math.max(0,
					allStartedAt + TimeUnit.MILLISECONDS.toNanos(SIGTERM_AFTER_MS) - System.nanoTime()));
			long sigtermAt = app.sigterm();

			// (e) Draining: no new connection, nothing served on the idle one.
			String draining = app.awaitLine(Pattern.compile("Draining \\d+ requests?, 1 WebSocket session"), Duration.ofSeconds(10));
			Outcome drainingStatus = Outcome.of(() -> getOnce(managementPort, STATUS_PATH));
			// The line comes just before the server is told to stop accepting: a few new
			// connections may still be served (with Connection: close) before one is refused.
			int servedBeforeRefusal = 0;
			Outcome newConnection;
			do {
				newConnection = Outcome.of(() -> {
					try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(1), Duration.ofSeconds(1))) {
						return connection.get("/hello");
					}
				});
			}
			while (newConnection.isStatus(200) && newConnection.closesConnection() && ++servedBeforeRefusal < 20
					&& slow.stream().noneMatch(Future::isDone));
			long refusedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sigtermAt);
			boolean aliveAtNewConnection = app.isAlive();
			// The idle keep-alive connection is closed by the server, without a request.
			long idleCheckAt = System.nanoTime();
			boolean idleClosed = idle.awaitClosedByServer(Duration.ofSeconds(1));
			long idleClosedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - idleCheckAt);
			boolean aliveAtKeepAlive = app.isAlive();

			// (f) Everything ends: streams and the WebSocket first, then the bounded requests.
			List<Outcome> slowOutcomes = new ArrayList<>();
			for (Future<Outcome> future : slow) {
				slowOutcomes.add(future.get(30, TimeUnit.SECONDS));
			}
			Duration exitTime = app.awaitExit(Duration.ofSeconds(20));
			long exitedAt = System.nanoTime();
			long lastSlowEnd = slowEnds.stream().mapToLong(Long::longValue).max().orElse(sigtermAt);
			long eventsEnd = endedAt(events);
			long ticksEnd = endedAt(ticks);
			long[] closed = webSocket.closed().isDone() && !webSocket.closed().isCompletedExceptionally()
					? webSocket.closed().join() : new long[] { -1, -1 };
			List<String> lines = app.lines();
			String summary = lines.stream()
				.map((line) -> SUMMARY.matcher(line))
				.filter(Matcher::find)
				.map(Matcher::group)
				.reduce((first, second) -> second)
				.orElse("");
			String requestsDrained = group(REQUESTS_DRAINED, summary);
			String progress = lines.stream()
				.map((line) -> PROGRESS.matcher(line))
				.filter(Matcher::find)
				.map(Matcher::group)
				.findFirst()
				.orElse(null);
			long slowOk = slowOutcomes.stream()
				.filter((outcome) -> outcome.isStatus(200) && outcome.closesConnection())
				.count();
			System.out.printf("E2E-METRIC %s: server=%s, exitAfterSigterm=%s, exitAfterLastSlowResponse=%d ms,"
					+ " slowResponses=%d/%d x (200 + Connection: close), sseEndedAfterSigterm=%s,"
					+ " ndjsonEndedAfterSigterm=%s, webSocketClose=%d after %s, newConnection=%s %d ms after SIGTERM"
					+ " (%d served before), idleKeepAliveConnection=%s, requestsDrained=%s, summary=\"%s\"%n",
					name, readyMatcher.group(2), (exitTime != null) ? exitTime.toMillis() + " ms" : "none",
					TimeUnit.NANOSECONDS.toMillis(exitedAt - lastSlowEnd), slowOk, slowRequests, millisAfter(eventsEnd, sigtermAt),
					millisAfter(ticksEnd, sigtermAt), closed[0], millisAfter(closed[1], sigtermAt), newConnection,
					refusedAfterMs, servedBeforeRefusal,
					idleClosed ? "closed by the server " + idleClosedAfterMs + " ms later" : "left open", requestsDrained, summary);

			softly.assertThat(draining).as("draining line").contains("within 10.00 s");
			softly.assertThat(group(STATE, String.valueOf(drainingStatus.body())))
				.as("state while draining: " + drainingStatus)
				.isEqualTo("DRAINING");
			softly.assertThat(aliveAtNewConnection).as("the app was still running at the new-connection probe").isTrue();
			softly.assertThat(newConnection.kind())
				.as("a new connection while draining: " + newConnection)
				.isIn(EnumSet.of(Kind.REFUSED, Kind.EOF, Kind.RESET));
			softly.assertThat(aliveAtKeepAlive).as("the app was still running at the keep-alive check").isTrue();
			softly.assertThat(idleClosed).as("the server closed the idle keep-alive connection while draining").isTrue();
			for (int i = 0; i < slowOutcomes.size(); i++) {
				Outcome outcome = slowOutcomes.get(i);
				softly.assertThat(outcome.isStatus(200)).as("slow request " + i + ": " + outcome).isTrue();
				softly.assertThat(outcome.body()).as("slow request " + i + ": " + outcome)
					.isEqualTo("slow " + SLOW_MS + " ms done");
				softly.assertThat(outcome.closesConnection())
					.as("slow request " + i + " carries Connection: close: " + outcome)
					.isTrue();
			}
			for (StreamClient stream : List.of(events, ticks)) {
				softly.assertThat(stream.ended()).as("the stream " + stream + " ends cleanly (EOF)").isCompleted();
			}
			long streamsBound = sigtermAt + TimeUnit.MILLISECONDS.toNanos(SLOW_MS - SIGTERM_AFTER_MS);
			softly.assertThat(Math.max(eventsEnd, ticksEnd))
				.as("the streams ended as draining started, before the slow requests could (%s, %s)", events, ticks)
				.isBetween(sigtermAt, streamsBound);
			softly.assertThat(closed[0]).as("the WebSocket close code").isEqualTo(1001);
			softly.assertThat(closed[1]).as("the WebSocket closed as draining started").isBetween(sigtermAt, streamsBound);
			softly.assertThat(exitTime).as("the process exits").isNotNull();
			softly.assertThat(Duration.ofNanos(exitedAt - lastSlowEnd))
				.as("exit after the last slow response, with streams and a WebSocket open at SIGTERM (Reactor "
						+ "Netty's event loops take 2 s of it: spring.reactor.netty.shutdown-quiet-period)")
				.isLessThan(Duration.ofMillis(3500));
			softly.assertThat(summary).as("summary").contains("Graceful shutdown COMPLETED").contains("0 stragglers")
				.contains("1 WebSocket session drained");
			softly.assertThat((requestsDrained != null) ? Integer.parseInt(requestsDrained) : -1)
				.as("requests drained in: " + summary)
				.isEqualTo(slowRequests + 2 + servedBeforeRefusal);
			softly.assertThat(lines.stream().filter((line) -> line.contains(BOOT_DRAIN)).count())
				.as("lines of Spring Boot's own drain: of the main server, inside ours, for Netty; none for Tomcat "
						+ "(ours replaces it) nor for the management server")
				.isEqualTo(bootDrains);
			softly.assertThat(progress).as("a progress line counts the requests").isNotNull();
			softly.assertThat(lines)
				.as("the streams ended at drain start")
				.anyMatch((line) -> line.contains("Ended 2 streaming responses as draining started"))
				.anyMatch((line) -> line.contains("Closing 1 WebSocket session with 1001 (going away)"));
		}
		finally {
			clients.shutdownNow();
		}
	}

	private static RawHttp.Response getOnce(int port, String path) throws IOException {
		try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(5))) {
			return connection.get(path);
		}
	}

	private static String group(Pattern pattern, String text) {
		Matcher matcher = pattern.matcher(text);
		return matcher.find() ? matcher.group(1) : null;
	}

	private static long endedAt(StreamClient stream) {
		return (stream.ended().isDone() && !stream.ended().isCompletedExceptionally()) ? stream.ended().join() : -1;
	}

	private static String millisAfter(long nanos, long sigtermAt) {
		return (nanos < 0) ? "never" : TimeUnit.NANOSECONDS.toMillis(nanos - sigtermAt) + " ms";
	}

}
