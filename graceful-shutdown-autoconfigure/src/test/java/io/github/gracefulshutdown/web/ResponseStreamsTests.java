package io.github.gracefulshutdown.web;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownWebAutoConfiguration;
import jakarta.servlet.http.HttpServletRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.tomcat.autoconfigure.servlet.TomcatServletWebServerAutoConfiguration;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.boot.webmvc.autoconfigure.DispatcherServletAutoConfiguration;
import org.springframework.boot.webmvc.autoconfigure.WebMvcAutoConfiguration;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.context.request.async.DeferredResult;
import org.springframework.web.servlet.mvc.method.annotation.ResponseBodyEmitter;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Spring MVC on a real Tomcat: draining ends an open {@code SseEmitter} as its controller
 * would, and leaves a bounded {@code DeferredResult} to finish; a stream opened during
 * the drain ends at once.
 */
class ResponseStreamsTests {

	static final CountDownLatch emitterCompleted = new CountDownLatch(1);

	static final DeferredResult<String> bounded = new DeferredResult<>(-1L);

	static final CountDownLatch exportStarted = new CountDownLatch(1);

	static final CompletableFuture<ResponseBodyEmitter> exportEmitter = new CompletableFuture<>();

	// Clients of their own: each blocks reading its response, and the common pool may
	// have a single thread on a 2-core machine.
	private final ExecutorService clients = Executors.newFixedThreadPool(4, (task) -> {
		Thread thread = new Thread(task, "streams-test-client");
		thread.setDaemon(true);
		return thread;
	});

	private ConfigurableApplicationContext context;

	private int port;

	@BeforeEach
	void start() {
		this.context = new SpringApplicationBuilder(StreamingApplication.class).web(WebApplicationType.SERVLET)
			.properties("spring.main.banner-mode=off", "server.port=0")
			.run();
		this.port = ((WebServerApplicationContext) this.context).getWebServer().getPort();
	}

	@AfterEach
	void stop() {
		bounded.setResult("done");
		this.context.close();
		this.clients.shutdownNow();
	}

	@Test
	void drainingEndsOpenStreamsButNotBoundedAsyncRequests() throws Exception {
		ResponseStreams streams = this.context.getBean(ResponseStreams.class);
		CompletableFuture<String> events = CompletableFuture.supplyAsync(() -> read("/events"), this.clients);
		CompletableFuture<String> deferred = CompletableFuture.supplyAsync(() -> read("/deferred"), this.clients);
		CompletableFuture<String> export = CompletableFuture.supplyAsync(() -> read("/export"), this.clients);
		assertThat(exportStarted.await(10, TimeUnit.SECONDS)).isTrue();
		awaitStreams(streams, 1);
		assertThat(streams.inFlight()).singleElement()
			.satisfies((stream) -> assertThat(stream.description()).isEqualTo("GET /events"));

		CompletableFuture<?> drained = streams.drain().toCompletableFuture();

		assertThat(events.get(10, TimeUnit.SECONDS)).as("the SSE body, ended by the drain").contains("data:first");
		assertThat(emitterCompleted.await(10, TimeUnit.SECONDS)).as("the emitter's own completion ran").isTrue();
		drained.get(10, TimeUnit.SECONDS);
		assertThat(streams.inFlight()).isEmpty();
		assertThat(streams.completedCount()).hasValue(1);
		assertThat(deferred).as("the bounded request is left to finish").isNotDone();
		assertThat(export).as("the stream that opted out is left to finish").isNotDone();
		exportEmitter.get(10, TimeUnit.SECONDS).send("last");
		exportEmitter.get(10, TimeUnit.SECONDS).complete();
		assertThat(export.get(10, TimeUnit.SECONDS)).contains("last");

		// What the controller sent before returning goes out; then the stream ends.
		assertThat(CompletableFuture.supplyAsync(() -> read("/events"), this.clients).get(10, TimeUnit.SECONDS))
			.as("a stream opened during the drain ends at once")
			.contains("data:first");
		bounded.setResult("done");
		assertThat(deferred.get(10, TimeUnit.SECONDS)).contains("done");
	}

	private static void awaitStreams(ResponseStreams streams, long count) throws InterruptedException {
		long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
		while (streams.inFlight().size() < count) {
			assertThat(System.nanoTime() - deadline).as("streams opened in time").isNegative();
			Thread.sleep(10);
		}
	}

	/** The whole response, head and body, read until the server ends it. */
	private String read(String path) {
		try (Socket socket = new Socket("127.0.0.1", this.port)) {
			socket.setSoTimeout(20_000);
			socket.getOutputStream()
				.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
					.getBytes(StandardCharsets.US_ASCII));
			BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
			StringBuilder all = new StringBuilder();
			for (String line = in.readLine(); line != null; line = in.readLine()) {
				all.append(line).append('\n');
			}
			return all.toString();
		}
		catch (IOException ex) {
			throw new IllegalStateException(ex);
		}
	}

	@ImportAutoConfiguration({ LifecycleAutoConfiguration.class, TomcatServletWebServerAutoConfiguration.class,
			DispatcherServletAutoConfiguration.class, WebMvcAutoConfiguration.class,
			GracefulShutdownAutoConfiguration.class, GracefulShutdownWebAutoConfiguration.class })
	@RestController
	static class StreamingApplication {

		@GetMapping("/events")
		SseEmitter events() throws IOException {
			SseEmitter emitter = new SseEmitter(-1L);
			emitter.onCompletion(emitterCompleted::countDown);
			emitter.send(SseEmitter.event().data("first"));
			return emitter;
		}

		@GetMapping("/export")
		ResponseBodyEmitter export(HttpServletRequest request) throws IOException {
			ResponseStreams.awaitStream(request);
			ResponseBodyEmitter emitter = new ResponseBodyEmitter(-1L);
			emitter.send("first\n");
			exportEmitter.complete(emitter);
			exportStarted.countDown();
			return emitter;
		}

		@GetMapping("/deferred")
		DeferredResult<String> deferred() {
			return bounded;
		}

	}

}
