package io.github.gracefulshutdown.web;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.support.StaticApplicationContext;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpStatus;
import org.springframework.http.codec.ServerCodecConfigurer;
import org.springframework.http.server.reactive.HttpHandler;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.http.server.reactive.MockServerHttpResponse;
import org.springframework.mock.web.server.MockServerWebExchange;
import org.springframework.web.server.adapter.DefaultServerWebExchange;
import org.springframework.web.server.i18n.AcceptHeaderLocaleContextResolver;
import org.springframework.web.server.session.DefaultWebSessionManager;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The reactive request counter on its own, with Spring's test request and response
 * (whose commit actions and streaming writes are the real {@code
 * AbstractServerHttpResponse} ones): what is counted and when it ends, the
 * {@code Connection: close} header, streams ended as draining starts, and the deadline.
 * The real servers are in {@link ReactiveServersDrainTests}.
 */
class ReactiveInFlightRequestsTests {

	private final ReactiveInFlightRequests requests = new ReactiveInFlightRequests(new StaticApplicationContext());

	@Test
	void countsARequestUntilItsHandlingCompletesOnNoThread() {
		Sinks.Empty<Void> release = Sinks.empty();
		HttpHandler handler = this.requests.decorate((request, response) -> release.asMono());
		MockServerHttpResponse response = new MockServerHttpResponse();
		Mono<Void> handled = handler.handle(MockServerHttpRequest.get("/orders").build(), response);
		assertThat(this.requests.inFlightCount()).hasValue(0);
		handled.subscribe();
		assertThat(this.requests.inFlightCount()).hasValue(1);
		assertThat(this.requests.inFlight()).singleElement().satisfies((inFlight) -> {
			assertThat(inFlight.description()).isEqualTo("GET /orders");
			assertThat(inFlight.thread()).isNull();
		});
		release.tryEmitEmpty();
		assertThat(this.requests.inFlightCount()).hasValue(0);
		assertThat(this.requests.completedCount()).hasValue(1);
		assertThat(response.getHeaders().getConnection()).as("no close while ready").isEmpty();
	}

	@Test
	void aRequestEndsOnceWhenItFailsOrIsCancelled() {
		HttpHandler failing = this.requests.decorate((request, response) -> Mono.error(new IllegalStateException("boom")));
		failing.handle(MockServerHttpRequest.get("/fails").build(), new MockServerHttpResponse())
			.subscribe(null, (ex) -> {
			});
		AtomicBoolean cancelled = new AtomicBoolean();
		HttpHandler never = this.requests
			.decorate((request, response) -> Mono.<Void>never().doOnCancel(() -> cancelled.set(true)));
		Disposable clientGone = never.handle(MockServerHttpRequest.get("/gone").build(), new MockServerHttpResponse())
			.subscribe();
		assertThat(this.requests.inFlightCount()).hasValue(1);
		clientGone.dispose();
		clientGone.dispose();
		assertThat(cancelled).isTrue();
		assertThat(this.requests.inFlightCount()).hasValue(0);
		assertThat(this.requests.completedCount()).hasValue(2);
	}

	@Test
	void aHandlerThatThrowsIsNotLeftCounted() {
		HttpHandler throwing = this.requests.decorate((request, response) -> {
			throw new IllegalStateException("thrown, not signalled");
		});
		assertThat(throwing.handle(MockServerHttpRequest.get("/").build(), new MockServerHttpResponse()).toFuture())
			.failsWithin(Duration.ofSeconds(5))
			.withThrowableThat()
			.havingCause()
			.withMessage("thrown, not signalled");
		assertThat(this.requests.inFlightCount()).hasValue(0);
		assertThat(this.requests.completedCount()).hasValue(1);
	}

	@Test
	void withoutADecoratedHandlerNoCountIsClaimed() {
		assertThat(this.requests.inFlightCount()).isEmpty();
		assertThat(this.requests.completedCount()).isEmpty();
		assertThat(this.requests.drain()).isCompleted();
	}

	@Test
	void aResponseCommittedOnceReadinessIsRefusedSaysConnectionClose() {
		// Readiness flips while the handler runs, and the handler commits the response
		// itself, with a body, before its handling ends: the header is set at the commit.
		Sinks.Empty<Void> release = Sinks.empty();
		HttpHandler handler = this.requests.decorate((request, response) -> release.asMono()
			.then(response.writeWith(Mono.fromSupplier(() -> buffer(response, "done"))))
			.then(Mono.never()));
		MockServerHttpResponse response = new MockServerHttpResponse();
		handler.handle(MockServerHttpRequest.get("/slow").build(), response).subscribe();
		this.requests.onApplicationEvent(new AvailabilityChangeEvent<>(this, ReadinessState.REFUSING_TRAFFIC));
		release.tryEmitEmpty();
		assertThat(response.isCommitted()).isTrue();
		assertThat(response.getHeaders().getConnection()).containsExactly("close");
		assertThat(this.requests.inFlightCount()).as("still handling after the commit").hasValue(1);
	}

	@Test
	void aResponseCommittedBeforeReadinessFlipsIsLeftAlone() {
		MockServerHttpResponse response = new MockServerHttpResponse();
		this.requests.decorate((request, res) -> res.setComplete())
			.handle(MockServerHttpRequest.get("/").build(), response)
			.block();
		this.requests.onApplicationEvent(new AvailabilityChangeEvent<>(this, ReadinessState.REFUSING_TRAFFIC));
		assertThat(response.getHeaders().getConnection()).isEmpty();
	}

	@Test
	void aWebSocketHandshakeKeepsItsConnectionHeader() {
		this.requests.onApplicationEvent(new AvailabilityChangeEvent<>(this, ReadinessState.REFUSING_TRAFFIC));
		MockServerHttpResponse response = new MockServerHttpResponse();
		Sinks.Empty<Void> sessionEnd = Sinks.empty();
		this.requests.decorate((request, res) -> res.setComplete().then(sessionEnd.asMono()))
			.handle(MockServerHttpRequest.get("/ws").header("Upgrade", "websocket").header("Connection", "Upgrade").build(),
					response)
			.subscribe();
		assertThat(response.getHeaders().getConnection()).isEmpty();
		assertThat(this.requests.inFlight()).singleElement()
			.satisfies((inFlight) -> assertThat(inFlight.description()).isEqualTo("GET /ws (WebSocket)"));
		sessionEnd.tryEmitEmpty();
	}

	@Test
	void drainCompletesOnTheLastRequestsEndAndRefusesLaterOnesWith503() {
		Sinks.Empty<Void> release = Sinks.empty();
		AtomicInteger handled = new AtomicInteger();
		HttpHandler handler = this.requests.decorate((request, response) -> {
			handled.incrementAndGet();
			return release.asMono();
		});
		handler.handle(MockServerHttpRequest.get("/slow").build(), new MockServerHttpResponse()).subscribe();
		CompletableFuture<?> drained = this.requests.drain().toCompletableFuture();
		assertThat(drained).isNotDone();
		MockServerHttpResponse whileDraining = new MockServerHttpResponse();
		handler.handle(MockServerHttpRequest.get("/while").build(), whileDraining).subscribe();
		assertThat(handled).as("a request arriving while others drain is served").hasValue(2);
		assertThat(whileDraining.getHeaders().getConnection()).isEmpty();
		release.tryEmitEmpty();
		assertThat(drained).isCompleted();

		MockServerHttpResponse late = new MockServerHttpResponse();
		handler.handle(MockServerHttpRequest.get("/late").build(), late).block(Duration.ofSeconds(5));
		assertThat(handled).as("a request arriving once drained is never run").hasValue(2);
		assertThat(late.getStatusCode()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
		assertThat(late.getHeaders().getConnection()).containsExactly("close");
		assertThat(this.requests.refusedCount()).isOne();
		assertThat(this.requests.completedCount()).as("refused requests are not drained ones").hasValue(2);
	}

	@Test
	void aStreamEndsCleanlyAsDrainingStartsAndOneStartingLaterAtOnce() {
		AtomicBoolean upstreamCancelled = new AtomicBoolean();
		HttpHandler handler = this.requests.decorate((request, response) -> response.writeAndFlushWith(
				Flux.interval(Duration.ofMillis(10)).map((tick) -> Mono.just(buffer(response, "tick " + tick))))
			.doOnCancel(() -> upstreamCancelled.set(true)));
		MockServerHttpResponse stream = new MockServerHttpResponse();
		CompletableFuture<Void> streamEnded = handler.handle(MockServerHttpRequest.get("/events").build(), stream)
			.toFuture();
		assertThat(this.requests.inFlight()).singleElement()
			.satisfies((inFlight) -> assertThat(inFlight.description()).isEqualTo("GET /events (stream)"));
		CompletableFuture<?> drained = this.requests.drain().toCompletableFuture();
		assertThat(streamEnded).as("the stream completes, it is not cancelled").succeedsWithin(Duration.ofSeconds(5));
		assertThat(upstreamCancelled).as("the handling itself completed").isFalse();
		assertThat(drained).succeedsWithin(Duration.ofSeconds(5));
		assertThat(this.requests.completedCount()).hasValue(1);
	}

	@Test
	void aStreamStartingDuringTheDrainEndsAtOnce() {
		Sinks.Empty<Void> release = Sinks.empty();
		HttpHandler slow = this.requests.decorate((request, response) -> release.asMono());
		slow.handle(MockServerHttpRequest.get("/slow").build(), new MockServerHttpResponse()).subscribe();
		this.requests.drain();
		HttpHandler events = this.requests.decorate((request, response) -> response
			.writeAndFlushWith(Flux.interval(Duration.ofMillis(10)).map((tick) -> Mono.just(buffer(response, "tick")))));
		MockServerHttpResponse late = new MockServerHttpResponse();
		assertThat(events.handle(MockServerHttpRequest.get("/events").build(), late).toFuture())
			.succeedsWithin(Duration.ofSeconds(5));
		assertThat(late.isCommitted()).isTrue();
		assertThat(late.getBodyAsString().block(Duration.ofSeconds(5))).isEmpty();
		release.tryEmitEmpty();
	}

	@Test
	void aStreamThatOptsOutIsAwaited() {
		Sinks.Many<String> lines = Sinks.many().unicast().onBackpressureBuffer();
		HttpHandler handler = this.requests.decorate((request, response) -> {
			MockServerWebExchange exchange = MockServerWebExchange.from(MockServerHttpRequest.get("/export"));
			assertThat(ReactiveInFlightRequests.awaitStream(exchange)).as("a foreign exchange is not ours").isFalse();
			assertThat(ReactiveInFlightRequests.awaitStream(exchange(request, response))).isTrue();
			return response.writeAndFlushWith(lines.asFlux().map((line) -> Mono.just(buffer(response, line))));
		});
		MockServerHttpResponse export = new MockServerHttpResponse();
		CompletableFuture<Void> ended = handler.handle(MockServerHttpRequest.get("/export").build(), export).toFuture();
		lines.tryEmitNext("a\n");
		CompletableFuture<?> drained = this.requests.drain().toCompletableFuture();
		lines.tryEmitNext("b\n");
		assertThat(ended).isNotDone();
		assertThat(drained).isNotDone();
		lines.tryEmitComplete();
		assertThat(ended).succeedsWithin(Duration.ofSeconds(5));
		assertThat(drained).isCompleted();
		assertThat(export.getBodyAsString().block(Duration.ofSeconds(5))).isEqualTo("a\nb\n");
	}

	@Test
	void atTheDeadlineStragglersAreNamedCancelledAndAnswered503() {
		AtomicBoolean cancelled = new AtomicBoolean();
		HttpHandler handler = this.requests
			.decorate((request, response) -> Mono.<Void>never().doOnCancel(() -> cancelled.set(true)));
		MockServerHttpResponse response = new MockServerHttpResponse();
		CompletableFuture<Void> handled = handler.handle(MockServerHttpRequest.get("/slow").build(), response)
			.toFuture();
		this.requests.drain();
		assertThat(this.requests.deadlinePassed()).singleElement()
			.satisfies((straggler) -> assertThat(straggler.description()).isEqualTo("GET /slow"));
		assertThat(cancelled).isTrue();
		assertThat(handled).succeedsWithin(Duration.ofSeconds(5));
		assertThat(response.getStatusCode()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
		assertThat(response.getHeaders().getConnection()).containsExactly("close");
		assertThat(this.requests.inFlight()).isEmpty();
	}

	@Test
	void atTheDeadlineAHalfWrittenResponseFailsSoItsConnectionCloses() {
		HttpHandler handler = this.requests.decorate((request, response) -> response
			.writeWith(Flux.just(buffer(response, "part")).concatWith(Mono.never())));
		MockServerHttpResponse response = new MockServerHttpResponse();
		response.setWriteHandler((body) -> Flux.from(body).then(Mono.never()));
		CompletableFuture<Void> handled = handler.handle(MockServerHttpRequest.get("/download").build(), response)
			.toFuture();
		assertThat(response.isCommitted()).isTrue();
		this.requests.drain();
		assertThat(this.requests.deadlinePassed()).hasSize(1);
		assertThat(handled).failsWithin(Duration.ofSeconds(5))
			.withThrowableThat()
			.havingCause()
			.isInstanceOf(ReactiveInFlightRequests.CutAtDeadlineException.class)
			.withMessage("GET /download was cut at the shutdown deadline with its response partly written");
		assertThat(this.requests.inFlight()).isEmpty();
	}

	@Test
	void namesTheConnectionsThatCarryARequest() {
		HttpHandler handler = this.requests.decorate((request, response) -> Mono.never());
		handler.handle(MockServerHttpRequest.get("/").remoteAddress(new InetSocketAddress("127.0.0.1", 50123)).build(),
				new MockServerHttpResponse())
			.subscribe();
		assertThat(this.requests.busyConnections()).containsExactly("127.0.0.1:50123");
	}

	private static DataBuffer buffer(ServerHttpResponse response, String text) {
		return response.bufferFactory().wrap(text.getBytes(StandardCharsets.UTF_8));
	}

	private static DefaultServerWebExchange exchange(ServerHttpRequest request,
			ServerHttpResponse response) {
		return new DefaultServerWebExchange(request, response, new DefaultWebSessionManager(),
				ServerCodecConfigurer.create(), new AcceptHeaderLocaleContextResolver());
	}

}
