package io.github.gracefulshutdown.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownWebAutoConfiguration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.autoconfigure.availability.ApplicationAvailabilityAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.reactor.netty.autoconfigure.NettyReactiveWebServerAutoConfiguration;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.tomcat.autoconfigure.reactive.TomcatReactiveWebServerAutoConfiguration;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.boot.webflux.autoconfigure.HttpHandlerAutoConfiguration;
import org.springframework.boot.webflux.autoconfigure.WebFluxAutoConfiguration;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.reactive.handler.SimpleUrlHandlerMapping;
import org.springframework.web.reactive.socket.WebSocketHandler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The reactive request counter on real servers, Reactor Netty and reactive Tomcat, with
 * real clients, through the whole shutdown sequence that closing the context runs: a
 * bounded request in flight is awaited and answers with {@code Connection: close}, an
 * open Server-Sent Events stream ends cleanly as draining starts, a WebSocket session
 * (on Netty: the test classpath has no Tomcat WebSocket jar) is closed with 1001, and
 * the summary counts the requests and sessions drained; past the
 * deadline a straggler is named and answered 503.
 */
@ExtendWith(OutputCaptureExtension.class)
class ReactiveServersDrainTests {

	private static final Duration SLOW = Duration.ofMillis(1500);

	// Threads of their own for the blocking clients and the close: the common pool may
	// have a single thread on a small machine, which one blocked client would hold.
	private final ExecutorService threads = Executors.newCachedThreadPool((task) -> {
		Thread thread = new Thread(task, "drain-test-client");
		thread.setDaemon(true);
		return thread;
	});

	@AfterEach
	void stopThreads() {
		this.threads.shutdownNow();
	}

	@ParameterizedTest
	@EnumSource(Server.class)
	void boundedRequestsAreAwaitedWhileStreamsAndWebSocketsEndAtDrainStart(Server server, CapturedOutput output)
			throws Exception {
		ConfigurableApplicationContext context = server.start("spring.lifecycle.timeout-per-shutdown-phase=10s");
		ReactiveInFlightRequests requests = context.getBean(ReactiveInFlightRequests.class);
		int port = ((WebServerApplicationContext) context).getWebServer().getPort();
		HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

		// An open SSE stream, read line by line.
		List<String> events = new CopyOnWriteArrayList<>();
		CompletableFuture<Long> streamEnded = client
			.sendAsync(get(port, "/events"), HttpResponse.BodyHandlers.ofLines())
			.thenApplyAsync((response) -> {
				try (Stream<String> lines = response.body()) {
					lines.filter((line) -> line.startsWith("data:")).forEach(events::add);
				}
				return System.nanoTime();
			}, this.threads);
		await().atMost(Duration.ofSeconds(10)).until(() -> !events.isEmpty());

		// A WebSocket session, where the server can upgrade (Tomcat needs its websocket jar).
		CompletableFuture<Integer> webSocketClosed = new CompletableFuture<>();
		if (server.webSocket) {
			client.newWebSocketBuilder()
				.buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), new ClosingListener(webSocketClosed))
				.get(10, TimeUnit.SECONDS);
		}

		// A bounded request, on a connection of its own.
		long slowSent = System.nanoTime();
		CompletableFuture<RawResponse> slow = CompletableFuture
			.supplyAsync(() -> RawResponse.get(port, "/slow?ms=" + SLOW.toMillis()), this.threads);
		await().atMost(Duration.ofSeconds(10))
			.untilAsserted(() -> assertThat(requests.inFlight()).extracting((inFlight) -> inFlight.description())
				.containsExactlyInAnyOrder("GET /events (stream)", "GET /slow"));
		if (server.webSocket) {
			assertThat(context.getBean(WebSocketSessions.class).inFlight()).singleElement()
				.satisfies((session) -> assertThat(session.description()).isEqualTo("WebSocket /ws"));
		}

		long closeStarted = System.nanoTime();
		CompletableFuture<Long> closed = CompletableFuture.supplyAsync(() -> {
			context.close();
			return System.nanoTime();
		}, this.threads);

		// The bounded request first: whatever else fails, it says whether work was cut.
		assertThat(slow).as("the bounded request on %s", server).succeedsWithin(Duration.ofSeconds(10)).satisfies((response) -> {
			assertThat(response.status()).isEqualTo(200);
			assertThat(response.body()).isEqualTo("slow done");
			assertThat(response.closesConnection()).as("Connection: close on " + response).isTrue();
		});
		assertThat(closed).succeedsWithin(Duration.ofSeconds(10));
		assertThat(Duration.ofNanos(closed.get() - slowSent)).as("the close on %s waited for the bounded request", server)
			.isGreaterThanOrEqualTo(SLOW);
		assertThat(Duration.ofNanos(closed.get() - closeStarted)).as("closed soon after the slow request")
			.isLessThan(SLOW.plusSeconds(3));
		assertThat(streamEnded).as("the SSE stream on %s ends cleanly", server).succeedsWithin(Duration.ofSeconds(5));
		assertThat(Duration.ofNanos(streamEnded.get() - closeStarted)).as("the stream on %s ended as draining started", server)
			.isLessThan(SLOW.minusMillis(300));
		if (server.webSocket) {
			assertThat(webSocketClosed).as("the WebSocket session on %s closed with 1001", server).succeedsWithin(Duration.ofSeconds(5)).isEqualTo(1001);
		}
		assertThat(output).contains("Ended 1 streaming response as draining started, so their clients reconnect "
				+ "elsewhere: GET /events (stream)")
			.contains("Graceful shutdown COMPLETED")
			.contains("2 requests drained");
		if (server.webSocket) {
			assertThat(output).contains("Closing 1 WebSocket session with 1001 (going away) as draining started")
				.contains("1 WebSocket session drained");
		}
		if (server == Server.TOMCAT) {
			assertThat(output).as("Spring Boot's own Tomcat drain, which ours replaces")
				.doesNotContain("Commencing graceful shutdown");
		}
	}

	@ParameterizedTest
	@EnumSource(Server.class)
	void aStragglerIsNamedAtTheDeadlineAndAnswered503(Server server, CapturedOutput output) throws Exception {
		ConfigurableApplicationContext context = server.start("spring.lifecycle.timeout-per-shutdown-phase=1s");
		ReactiveInFlightRequests requests = context.getBean(ReactiveInFlightRequests.class);
		int port = ((WebServerApplicationContext) context).getWebServer().getPort();
		CompletableFuture<RawResponse> slow = CompletableFuture.supplyAsync(() -> RawResponse.get(port, "/slow?ms=30000"),
				this.threads);
		await().atMost(Duration.ofSeconds(10)).until(() -> requests.inFlightCount().getAsLong() == 1);
		long closeStarted = System.nanoTime();
		context.close();
		assertThat(Duration.ofNanos(System.nanoTime() - closeStarted)).isLessThan(Duration.ofSeconds(5));
		// Reactive Tomcat may stop before the 503 it was given is written: the client then
		// sees its connection closed with no answer. Either way it is told, and never sees
		// a 200 for a request that was cut.
		CompletableFuture<String> outcome = slow.handle((response, failure) -> (failure != null)
				? "failed: " + failure.getMessage()
				: response.status() + (response.closesConnection() ? " close" : " keep-alive"));
		assertThat(outcome).succeedsWithin(Duration.ofSeconds(5))
			.satisfies((told) -> assertThat(told).satisfiesAnyOf((it) -> assertThat(it).isEqualTo("503 close"),
					(it) -> assertThat(it).contains("The server closed the connection")
						.matches((text) -> server == Server.TOMCAT, "on Tomcat only")));
		// From this drain on: the output may hold the end of an earlier test's.
		String log = output.toString().substring(output.toString().lastIndexOf("Draining 1 request"));
		assertThat(log).contains("Shutdown deadline of 1.00 s passed with 1 straggler")
			.contains("  GET /slow, running for ")
			.contains("Graceful shutdown TIMED_OUT")
			.contains("1 straggler (GET /slow)")
			.doesNotContain("0 stragglers");
	}

	@Test
	void aClientThatGoesAwayEndsItsRequest() throws Exception {
		ConfigurableApplicationContext context = Server.NETTY.start();
		try {
			ReactiveInFlightRequests requests = context.getBean(ReactiveInFlightRequests.class);
			int port = ((WebServerApplicationContext) context).getWebServer().getPort();
			try (Socket socket = new Socket()) {
				socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
				socket.getOutputStream()
					.write("GET /slow?ms=30000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
				await().atMost(Duration.ofSeconds(10)).until(() -> requests.inFlightCount().getAsLong() == 1);
			}
			await().atMost(Duration.ofSeconds(5)).until(() -> requests.inFlightCount().getAsLong() == 0);
			assertThat(requests.completedCount()).hasValue(1);
		}
		finally {
			context.close();
		}
	}

	private static HttpRequest get(int port, String path) {
		return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(20)).build();
	}

	enum Server {

		NETTY(NettyReactiveWebServerAutoConfiguration.class, true),

		TOMCAT(TomcatReactiveWebServerAutoConfiguration.class, false);

		private final Class<?> autoConfiguration;

		private final boolean webSocket;

		Server(Class<?> autoConfiguration, boolean webSocket) {
			this.autoConfiguration = autoConfiguration;
			this.webSocket = webSocket;
		}

		ConfigurableApplicationContext start(String... properties) {
			return new SpringApplicationBuilder(App.class, this.autoConfiguration).web(WebApplicationType.REACTIVE)
				.properties("spring.main.banner-mode=off", "server.port=0")
				.properties(properties)
				.run();
		}

	}

	@Configuration(proxyBeanMethods = false)
	@ImportAutoConfiguration({ ApplicationAvailabilityAutoConfiguration.class, LifecycleAutoConfiguration.class,
			WebFluxAutoConfiguration.class, HttpHandlerAutoConfiguration.class, GracefulShutdownAutoConfiguration.class,
			GracefulShutdownWebAutoConfiguration.class })
	static class App {

		@Bean
		RouterFunction<ServerResponse> routes() {
			return RouterFunctions.route()
				.GET("/slow", (request) -> Mono.delay(Duration.ofMillis(Long.parseLong(request.queryParam("ms").orElseThrow())))
					.then(ServerResponse.ok().bodyValue("slow done")))
				.GET("/events", (request) -> ServerResponse.ok()
					.contentType(MediaType.TEXT_EVENT_STREAM)
					.body(Flux.interval(Duration.ofMillis(100)).onBackpressureDrop().map((tick) -> "tick " + tick), String.class))
				.build();
		}

		@Bean
		SimpleUrlHandlerMapping webSocketMapping() {
			WebSocketHandler ticks = (session) -> session
				.send(Flux.interval(Duration.ofMillis(100)).onBackpressureDrop().map((tick) -> session.textMessage("tick " + tick)))
				.and(session.receive().then());
			return new SimpleUrlHandlerMapping(Map.of("/ws", ticks), -1);
		}

	}

	/**
	 * Completes with the close code the server sends.
	 */
	private record ClosingListener(CompletableFuture<Integer> closed) implements WebSocket.Listener {

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

	/**
	 * One {@code GET} on a connection of its own, read as the server wrote it, headers
	 * and all: the JDK client hides how the server treats the connection.
	 */
	private record RawResponse(int status, List<String> headers, String body) {

		static RawResponse get(int port, String path) {
			try (Socket socket = new Socket()) {
				socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
				socket.setSoTimeout(40_000);
				OutputStream out = socket.getOutputStream();
				out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
				out.flush();
				InputStream in = socket.getInputStream();
				String statusLine = readLine(in);
				List<String> headers = new CopyOnWriteArrayList<>();
				int length = 0;
				for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
					headers.add(line);
					if (line.regionMatches(true, 0, "Content-Length:", 0, 15)) {
						length = Integer.parseInt(line.substring(15).trim());
					}
				}
				String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
				return new RawResponse(Integer.parseInt(statusLine.split(" ")[1]), headers, body);
			}
			catch (IOException ex) {
				throw new IllegalStateException(ex);
			}
		}

		boolean closesConnection() {
			return this.headers.stream().anyMatch((header) -> header.equalsIgnoreCase("Connection: close"));
		}

		private static String readLine(InputStream in) throws IOException {
			StringBuilder line = new StringBuilder();
			for (int c = in.read(); c != '\n'; c = in.read()) {
				if (c == -1) {
					throw new IOException("The server closed the connection; read so far: " + line);
				}
				if (c != '\r') {
					line.append((char) c);
				}
			}
			return line.toString();
		}

	}

}
