package io.github.gracefulshutdown.demo.webflux;

import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Clients that stay connected until the server ends them: a streaming response (SSE,
 * NDJSON) read line by line, and a WebSocket. Each records when and how it ended.
 */
final class LongLivedClients {

	private LongLivedClients() {
	}

	/**
	 * A streaming response read line by line with the JDK client, which tells a clean end
	 * of a chunked body (the last, empty chunk) from a connection closed in the middle
	 * (an {@link java.io.IOException} while reading).
	 */
	static final class StreamClient {

		private final String path;

		private final CountDownLatch firstLine = new CountDownLatch(1);

		private final AtomicInteger lines = new AtomicInteger();

		// System.nanoTime() at a clean end; failed if the stream broke.
		private final CompletableFuture<Long> ended = new CompletableFuture<>();

		private StreamClient(String path) {
			this.path = path;
		}

		static StreamClient open(HttpClient client, int port, String path) {
			StreamClient stream = new StreamClient(path);
			HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
				.timeout(Duration.ofSeconds(60))
				.build();
			client.sendAsync(request, HttpResponse.BodyHandlers.ofLines()).whenComplete((response, ex) -> {
				if (ex != null) {
					stream.ended.completeExceptionally(ex);
					return;
				}
				// A thread of its own, which reading blocks until the stream ends: the common
				// pool may have a single thread on a small machine.
				Thread reader = new Thread(() -> stream.read(response), "stream-client" + path.replace('/', '-'));
				reader.setDaemon(true);
				reader.start();
			});
			return stream;
		}

		private void read(HttpResponse<java.util.stream.Stream<String>> response) {
			if (response.statusCode() != 200) {
				this.ended.completeExceptionally(new IllegalStateException(this.path + " answered " + response.statusCode()));
				return;
			}
			try (java.util.stream.Stream<String> body = response.body()) {
				body.filter((line) -> !line.isBlank()).forEach((line) -> {
					this.lines.incrementAndGet();
					this.firstLine.countDown();
				});
				this.ended.complete(System.nanoTime());
			}
			catch (UncheckedIOException ex) {
				this.ended.completeExceptionally(ex.getCause());
			}
		}

		boolean awaitFirstLine(Duration timeout) throws InterruptedException {
			return this.firstLine.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
		}

		CompletableFuture<Long> ended() {
			return this.ended;
		}

		int lines() {
			return this.lines.get();
		}

		@Override
		public String toString() {
			return this.path + " (" + this.lines + " lines, " + (this.ended.isDone()
					? (this.ended.isCompletedExceptionally() ? "broken" : "ended cleanly") : "open") + ")";
		}

	}

	/**
	 * A WebSocket that counts the messages it receives and records the server's close
	 * code.
	 */
	static final class WebSocketClient implements WebSocket.Listener {

		private final CountDownLatch firstMessage = new CountDownLatch(1);

		// The close code, with System.nanoTime() when it came.
		private final CompletableFuture<long[]> closed = new CompletableFuture<>();

		static WebSocketClient open(HttpClient client, int port, String path) throws Exception {
			WebSocketClient socket = new WebSocketClient();
			client.newWebSocketBuilder()
				.buildAsync(URI.create("ws://127.0.0.1:" + port + path), socket)
				.get(10, TimeUnit.SECONDS);
			return socket;
		}

		@Override
		public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
			this.firstMessage.countDown();
			webSocket.request(1);
			return null;
		}

		@Override
		public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
			this.closed.complete(new long[] { statusCode, System.nanoTime() });
			return null;
		}

		@Override
		public void onError(WebSocket webSocket, Throwable error) {
			this.closed.completeExceptionally(error);
		}

		boolean awaitFirstMessage(Duration timeout) throws InterruptedException {
			return this.firstMessage.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
		}

		CompletableFuture<long[]> closed() {
			return this.closed;
		}

	}

}
