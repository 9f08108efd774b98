package io.github.gracefulshutdown.demo;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.github.gracefulshutdown.web.RawHttp.Outcome;
import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end over real HTTP, one shutdown of the demo app as a separate JVM: four slow
 * responses, each committed its own way (a {@code String}, JSON, a 64 KB
 * {@code ResponseEntity<byte[]>} and a {@code StreamingResponseBody} that flushes part by
 * part), are in flight beside an open SSE stream, a raw WebSocket and a STOMP session
 * when a real SIGTERM arrives. Every response completes whole with
 * {@code Connection: close}, the SSE client sees its stream end at once, both WebSocket
 * clients get {@code 1001 Going Away}, and the app exits soon after the slow responses
 * end, {@code COMPLETED}.
 */
class StreamsAndKeepAliveIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final long SLOW_MS = 1500;

	private static final String STOMP_CONNECT = "CONNECT\naccept-version:1.2\nhost:127.0.0.1\n\n\0";

	@TempDir
	Path tempDir;

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void inFlightResponsesCloseTheirConnectionsAndStreamsEndWhenDrainingStarts() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		AtomicInteger threads = new AtomicInteger();
		ExecutorService clients = Executors.newFixedThreadPool(5, (task) -> {
			Thread thread = new Thread(task, "streams-client-" + threads.incrementAndGet());
			thread.setDaemon(true);
			return thread;
		});
		HttpClient http = HttpClient.newHttpClient();
		try (DemoProcess app = DemoProcess.start("streams",
				List.of("--demo.journal=" + journal, "--spring.profiles.active=websocket", "--demo.light.unit=200ms",
						"--demo.heavy.unit=200ms", "--spring.lifecycle.timeout-per-shutdown-phase=15s",
						"--server.port=0"))) {
			int port = app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine("Started 2 background jobs: [", STARTUP_TIMEOUT);
			// Warm up each path, so that class loading does not slow the requests below.
			for (String path : List.of("/shapes/text?ms=1", "/slow?ms=1", "/shapes/bytes?ms=1",
					"/shapes/streaming?ms=1")) {
				E2eFixture.get(port, path);
			}

			Closes raw = new Closes();
			WebSocket rawSocket = http.newWebSocketBuilder()
				.buildAsync(URI.create("ws://" + RawHttp.HOST + ":" + port + "/ws"), raw)
				.get(10, TimeUnit.SECONDS);
			rawSocket.sendText("ping", true).get(10, TimeUnit.SECONDS);
			Closes stomp = new Closes();
			WebSocket stompSocket = http.newWebSocketBuilder()
				.buildAsync(URI.create("ws://" + RawHttp.HOST + ":" + port + "/stomp"), stomp)
				.get(10, TimeUnit.SECONDS);
			stompSocket.sendText(STOMP_CONNECT, true).get(10, TimeUnit.SECONDS);
			String echoed = raw.firstText.get(10, TimeUnit.SECONDS);
			String connected = stomp.firstText.get(10, TimeUnit.SECONDS);

			Future<Outcome> events = clients.submit(() -> E2eFixture.get(port, "/events"));
			Map<String, Future<Outcome>> slow = Map.of("text",
					clients.submit(() -> E2eFixture.get(port, "/shapes/text?ms=" + SLOW_MS)), "json",
					clients.submit(() -> E2eFixture.get(port, "/slow?ms=" + SLOW_MS)), "bytes",
					clients.submit(() -> E2eFixture.get(port, "/shapes/bytes?ms=" + SLOW_MS)), "streaming",
					clients.submit(() -> E2eFixture.get(port, "/shapes/streaming?ms=" + SLOW_MS)));
			app.awaitJournal(journal, "the four slow responses in flight",
					(read) -> List.of("text", "slow", "bytes", "streaming")
						.stream()
						.allMatch((job) -> E2eFixture.unfinished(read, job) == 1),
					Duration.ofSeconds(10));
			boolean streamOpen = E2eFixture.shutdownStatus(port).path("inFlight").path("stream").asInt() == 1;

			long sigterm = System.nanoTime();
			app.sigterm();
			Outcome stream = events.get(10, TimeUnit.SECONDS);
			long streamEndedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sigterm);
			Integer rawClose = raw.closed.get(10, TimeUnit.SECONDS);
			Integer stompClose = stomp.closed.get(10, TimeUnit.SECONDS);
			Map<String, Outcome> outcomes = new TreeMap<>();
			for (Map.Entry<String, Future<Outcome>> entry : slow.entrySet()) {
				outcomes.put(entry.getKey(), entry.getValue().get(20, TimeUnit.SECONDS));
			}
			Duration exit = E2eFixture.awaitOwnExit(app, Duration.ofSeconds(20));
			long exitMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sigterm);

			JournalFile units = JournalFile.read(journal);
			String context = "\n" + units + "\n" + app.tail(60);
			String summary = E2eFixture.summary(app.lines(), context);
			System.out.printf("E2E-METRIC streams: sse=%s after %d ms, ws=%s, stomp=%s, responses=%s, exit=%d ms"
					+ " after SIGTERM (%d ms waited)%n", stream.brief(), streamEndedMs, rawClose, stompClose,
					outcomes.entrySet()
						.stream()
						.map((e) -> e.getKey() + ":" + e.getValue().brief() + "/" + e.getValue().connectionHeader())
						.toList(),
					exitMs, exit.toMillis());

			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(echoed).as("the raw WebSocket echoed").isEqualTo("ping");
			softly.assertThat(connected).as("the STOMP session connected").startsWith("CONNECTED");
			softly.assertThat(streamOpen).as("the status endpoint counted the open stream").isTrue();
			outcomes.forEach((shape, outcome) -> {
				softly.assertThat(outcome.isStatus(200)).as(shape + ": " + outcome).isTrue();
				softly.assertThat(outcome.closesConnection())
					.as(shape + " was committed after the drain began, so it carries Connection: close: " + outcome)
					.isTrue();
			});
			softly.assertThat(outcomes.get("text").body()).as("text body").isEqualTo("text done");
			softly.assertThat(outcomes.get("json").body()).as("JSON body").isEqualTo("{\"slept\":" + SLOW_MS + "}");
			softly.assertThat(outcomes.get("bytes").body()).as("64 KB body").hasSize(64 * 1024).matches("b+");
			softly.assertThat(outcomes.get("streaming").body()).as("streamed body")
				.isEqualTo("part 1\npart 2\npart 3\n");
			softly.assertThat(stream.isStatus(200)).as("the SSE stream ended cleanly: " + stream).isTrue();
			softly.assertThat(stream.body()).as("it had sent events").contains("event:tick");
			softly.assertThat(streamEndedMs).as("the SSE stream ended at drain start, ms after SIGTERM")
				.isLessThan(SLOW_MS);
			softly.assertThat(rawClose).as("the raw WebSocket's close code").isEqualTo(1001);
			softly.assertThat(stompClose).as("the STOMP session's close code").isEqualTo(1001);
			softly.assertThat(exitMs).as("exit soon after the slow responses end, not at the 15 s deadline")
				.isLessThan(SLOW_MS + 6000);
			softly.assertThat(app.lines())
				.as("the log names the stream it ended")
				.anyMatch((line) -> line.contains("Ending 1 open response stream")
						&& line.contains("(first: GET /events)"));
			softly.assertThat(summary).as("summary").contains("Graceful shutdown COMPLETED").contains("0 stragglers");
			softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
			softly.assertThat(units.spans("websocket")).as("the raw WebSocket session, opened and closed").hasSize(1);
			E2eFixture.assertAll(softly, context);
		}
		finally {
			clients.shutdownNow();
		}
	}

	/** A WebSocket client that keeps the first text it gets and the close code. */
	private static final class Closes implements WebSocket.Listener {

		final CompletableFuture<String> firstText = new CompletableFuture<>();

		final CompletableFuture<Integer> closed = new CompletableFuture<>();

		private final StringBuilder text = new StringBuilder();

		@Override
		public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
			this.text.append(data);
			if (last) {
				this.firstText.complete(this.text.toString());
				this.text.setLength(0);
			}
			webSocket.request(1);
			return null;
		}

		@Override
		public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
			this.closed.complete(statusCode);
			return null;
		}

		@Override
		public void onError(WebSocket webSocket, Throwable error) {
			this.closed.completeExceptionally(error);
		}

	}

}
