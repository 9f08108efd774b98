package io.github.gracefulshutdown.web;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.Supplier;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.core.InFlightTracker;
import io.github.gracefulshutdown.core.Units;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.reactivestreams.Publisher;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.SignalType;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.boot.web.server.WebServer;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationListener;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ZeroCopyHttpOutputMessage;
import org.springframework.http.server.reactive.HttpHandler;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.http.server.reactive.ServerHttpResponseDecorator;
import org.springframework.util.ClassUtils;
import org.springframework.web.server.ServerWebExchange;

/**
 * A reactive web server (WebFlux on Reactor Netty, Tomcat or Jetty) as a participant of
 * the one shutdown: it counts the requests in flight, ends streaming responses as
 * draining starts, and completes on the last request's end.
 * <p>
 * Requests are counted by an {@link HttpHandler} decorator ({@link #decorate}) around
 * Spring's whole handling rather than by a {@code WebFilter}: the exception handlers
 * (Spring Boot's error rendering), the forwarded-header step and the final
 * {@code setComplete()} run outside the filter chain, so a filter would stop counting a
 * failed request before its error response is written. A request ends when the
 * server's subscription to the handling ends: completed, failed, or cancelled because
 * the client went away; on reactive Tomcat, once Tomcat has then finished writing the
 * response ({@link TomcatResponsesFinished}), since it writes the end of it on a thread
 * of its own after the handling has ended. Counting one costs an entry of an
 * {@link InFlightTracker}, a response decorator and three operators.
 * <p>
 * From the moment readiness becomes REFUSING_TRAFFIC, every response committed carries
 * {@code Connection: close}, set as it commits ({@link ServerHttpResponse#beforeCommit}),
 * whoever commits it: a writer that flushes, an error handler, the end of the handling.
 * Reactor Netty and Tomcat close the connection after such a response. A WebSocket
 * handshake is left alone; its session, which outlives the handshake request, is
 * {@link WebSocketSessions}'s.
 * <p>
 * As draining starts, every streaming response (what Spring writes through
 * {@link ServerHttpResponse#writeAndFlushWith}: Server-Sent Events, NDJSON and the other
 * streaming media types) is completed, so its client sees a clean end of stream and an
 * {@code EventSource} reconnects, to another instance. A stream that starts during the
 * drain ends at once, after its headers. One that must be read whole (a bounded export)
 * opts out with {@link #awaitStream(ServerWebExchange)}, and is then awaited like any
 * request. Bounded requests are awaited.
 * <p>
 * The server itself: with Tomcat the drain is ours, as for servlet Tomcat
 * ({@link TomcatConnectors}: server sockets closed, idle keep-alive connections closed);
 * with Reactor Netty or Jetty, Spring Boot's own graceful shutdown closes the server
 * socket and the idle connections, started here inside the deadline. Once the last
 * request has ended, a request that still arrives on an open connection is answered
 * {@code 503} with {@code Connection: close} and never run.
 * <p>
 * At the deadline the requests still in flight are named (a reactive request has no
 * thread of its own), then cancelled: their handling is cancelled upstream, and a
 * response not yet committed is answered {@code 503} with {@code Connection: close}; one
 * already committed is failed, so that the server closes its connection rather than end
 * a half-written body cleanly.
 * <p>
 * Only requests that pass through {@link #decorate} are counted: the starter decorates
 * the {@code HttpHandler} that Spring Boot builds. An application that defines its own
 * {@code HttpHandler} bean passes it through {@link #decorate} itself; if it does not,
 * this participant claims no count ({@link #inFlightCount()} is empty) and only drains
 * the server.
 */
public final class ReactiveInFlightRequests
		implements ShutdownParticipant, ApplicationListener<AvailabilityChangeEvent<ReadinessState>> {

	private static final Log logger = LogFactory.getLog(ReactiveInFlightRequests.class);

	private static final boolean TOMCAT_PRESENT = ClassUtils.isPresent("org.springframework.boot.tomcat.TomcatWebServer",
			ReactiveInFlightRequests.class.getClassLoader());

	private final ApplicationContext context;

	private final InFlightTracker<Exchange> requests = new InFlightTracker<>();

	// Completed as draining starts: every streaming response then ends, and one that
	// starts later ends at once (a completed sink completes its late subscribers too).
	private final Sinks.Empty<Void> streamsEnd = Sinks.empty();

	private final LongAdder refused = new LongAdder();

	private final AtomicBoolean refusing = new AtomicBoolean();

	private volatile boolean closeConnections;

	private volatile boolean decorating;

	private volatile boolean responsesFinishRequests;

	/**
	 * Creates the counter for the context's own web server.
	 * @param context the application context that runs the server
	 */
	public ReactiveInFlightRequests(ApplicationContext context) {
		this.context = context;
	}

	/**
	 * Returns a handler that counts each request it handles, from the server's
	 * subscription until the end of the handling, and otherwise hands it to the given
	 * one.
	 * @param handler the application's handler
	 * @return the counting handler
	 */
	public HttpHandler decorate(HttpHandler handler) {
		this.decorating = true;
		// Counted from the server's subscription: a handling never subscribed never ends.
		return (request, response) -> Mono.defer(() -> handle(handler, request, response));
	}

	private Mono<Void> handle(HttpHandler handler, ServerHttpRequest request, ServerHttpResponse response) {
		Exchange exchange = new Exchange(request, response);
		// Counted before checking, so a request either holds the drain open or sees it done.
		if (!this.requests.begin(exchange)) {
			return refuse(request, response);
		}
		if (this.responsesFinishRequests) {
			exchange.endsWhenResponseFinished = TomcatReactiveRequests.endWhenResponseFinished(request, exchange);
		}
		Mono<Void> handled;
		try {
			response.beforeCommit(exchange);
			handled = handler.handle(request, exchange.response);
		}
		catch (RuntimeException | Error ex) {
			exchange.end();
			throw ex;
		}
		return handled.takeUntilOther(exchange.deadline.asMono())
			.then(Mono.defer(exchange::answerIfCut))
			.doFinally(exchange);
	}

	private Mono<Void> refuse(ServerHttpRequest request, ServerHttpResponse response) {
		if (this.refusing.compareAndSet(false, true)) {
			// Once, not per request: clients may keep sending on open connections.
			logger.info("Requests have drained; answering requests that still arrive with 503 (first: "
					+ request.getMethod() + " " + request.getPath().value() + ")");
		}
		this.refused.increment();
		// No error page: rendering one needs the beans that are being destroyed.
		response.setStatusCode(HttpStatus.SERVICE_UNAVAILABLE);
		response.getHeaders().set(HttpHeaders.CONNECTION, "close");
		response.getHeaders().setContentLength(0);
		return response.setComplete();
	}

	@Override
	public void onApplicationEvent(AvailabilityChangeEvent<ReadinessState> event) {
		if (event.getState() == ReadinessState.REFUSING_TRAFFIC) {
			this.closeConnections = true;
		}
	}

	/**
	 * Leaves the end of every request from now on to the server, which ends it once it
	 * has finished writing the response ({@link TomcatResponsesFinished}): on reactive
	 * Tomcat, the end of the handling only starts that, on another thread.
	 */
	void endRequestsWhenResponsesFinish() {
		this.responsesFinishRequests = true;
	}

	/**
	 * Lets the streaming response of an exchange run to its own end when draining starts,
	 * instead of being ended then: for a stream that must be read whole, such as an NDJSON
	 * export. It is then awaited like any request, and cut at the deadline. Call it before
	 * the response is written, in the controller or a filter.
	 * @param exchange the exchange of a request in flight
	 * @return {@code true} if a participant counts the exchange and will await its stream,
	 * {@code false} if none counts it
	 */
	public static boolean awaitStream(ServerWebExchange exchange) {
		ServerHttpResponse response = exchange.getResponse();
		while (response instanceof ServerHttpResponseDecorator decorator) {
			if (decorator instanceof TrackedResponse tracked) {
				tracked.exchange.awaitStream = true;
				return true;
			}
			response = decorator.getDelegate();
		}
		return false;
	}

	// ---- ShutdownParticipant --------------------------------------------------------

	@Override
	public String name() {
		return Units.REQUEST;
	}

	/**
	 * Ends the streaming responses, stops the server taking new connections and
	 * completes on the end of the last request in flight (at once if there is none). From
	 * then on, requests that still arrive are answered {@code 503}.
	 */
	@Override
	public CompletionStage<?> drain() {
		this.closeConnections = true;
		endStreams();
		CompletableFuture<Void> requestsEnded = this.requests.drain();
		WebServer webServer = WebServerDrain.webServer(this.context);
		if (webServer == null) {
			return requestsEnded;
		}
		if (TOMCAT_PRESENT && TomcatConnectors.isTomcat(webServer)) {
			int idle = TomcatConnectors.stopAccepting(webServer, busyConnections());
			logger.debug("Tomcat stopped accepting connections; closed " + idle + " idle keep-alive connections");
			return requestsEnded;
		}
		return CompletableFuture.allOf(requestsEnded, WebServerDrain.startBootGracefulShutdown(this.context));
	}

	private void endStreams() {
		List<String> streams = new ArrayList<>();
		for (Exchange exchange : this.requests.active()) {
			if (exchange.streaming && !exchange.awaitStream) {
				streams.add(exchange.describe());
			}
		}
		this.streamsEnd.tryEmitEmpty();
		if (!streams.isEmpty()) {
			logger.info("Ended " + streams.size() + " streaming response" + ((streams.size() == 1) ? "" : "s")
					+ " as draining started, so their clients reconnect elsewhere: " + String.join(", ", streams));
		}
	}

	/**
	 * Returns how many requests are in flight, or nothing if no request passes through
	 * this participant (an application's own {@code HttpHandler}, not decorated).
	 */
	@Override
	public OptionalLong inFlightCount() {
		return this.decorating ? OptionalLong.of(this.requests.activeCount()) : OptionalLong.empty();
	}

	@Override
	public OptionalLong completedCount() {
		return this.decorating ? OptionalLong.of(this.requests.completedCount()) : OptionalLong.empty();
	}

	/**
	 * Returns the requests in flight, oldest first: {@code GET /orders}, and
	 * {@code GET /events (stream)} or {@code GET /ws (WebSocket)}. None names a thread:
	 * a reactive request runs on whichever thread its next signal arrives.
	 */
	@Override
	public List<InFlight> inFlight() {
		return describe(this.requests.active());
	}

	private static List<InFlight> describe(List<Exchange> exchanges) {
		return exchanges.stream().map((exchange) -> new InFlight(exchange.describe(), exchange.startedAt(), null)).toList();
	}

	/**
	 * Refuses every later request, then cancels those still in flight: their handling is
	 * cancelled, and each is answered {@code 503} if its response is not committed yet,
	 * or its connection closed if it is.
	 */
	@Override
	public List<InFlight> deadlinePassed() {
		this.requests.close();
		List<Exchange> left = this.requests.active();
		List<InFlight> stragglers = describe(left);
		for (Exchange exchange : left) {
			try {
				exchange.cut();
			}
			catch (RuntimeException ex) {
				logger.warn("Could not cancel " + exchange.describe() + " at the deadline", ex);
			}
		}
		return stragglers;
	}

	/**
	 * How many requests arrived after the drain had finished and were answered
	 * {@code 503}.
	 */
	long refusedCount() {
		return this.refused.sum();
	}

	/**
	 * Returns the client connections that carry a request in flight, as
	 * {@code address:port}, in the form {@link TomcatConnectors} compares with.
	 */
	Set<String> busyConnections() {
		Set<String> busy = new HashSet<>();
		for (Exchange exchange : this.requests.collect()) {
			InetSocketAddress remote = exchange.remote;
			if (remote != null) {
				// Only called with Tomcat, whose jar holds the servlet API that class needs.
				busy.add(InFlightRequests.connection(remote.getHostString(), remote.getPort()));
			}
		}
		return busy;
	}

	/**
	 * One request in flight, from the server's subscription until its handling ends. It is also
	 * the commit action that adds {@code Connection: close}, and the end of its handling,
	 * so that counting a request allocates no more than it must.
	 */
	private final class Exchange extends InFlightTracker.Entry
			implements Supplier<Mono<Void>>, Consumer<SignalType>, EndsWhenResponseFinished {

		private final ServerHttpRequest request;

		private final @Nullable InetSocketAddress remote;

		private final @Nullable String upgrade;

		private final TrackedResponse response;

		// Completed at the deadline: the handling is cancelled then.
		private final Sinks.Empty<Void> deadline = Sinks.unsafe().empty();

		private volatile boolean streaming;

		private volatile boolean awaitStream;

		private volatile boolean cut;

		// Set before the handling starts; read when it ends, on whichever thread.
		private volatile boolean endsWhenResponseFinished;

		Exchange(ServerHttpRequest request, ServerHttpResponse response) {
			super(null);
			this.request = request;
			// Read now, on the request's own thread: at drain start, on Tomcat, the request
			// of a response that has just ended may already be recycled, and reading it
			// then throws (seen in CI: the drain failed to start).
			this.remote = request.getRemoteAddress();
			this.upgrade = request.getHeaders().getFirst(HttpHeaders.UPGRADE);
			this.response = (response instanceof ZeroCopyHttpOutputMessage)
					? new ZeroCopyTrackedResponse(response, this) : new TrackedResponse(response, this);
		}

		/**
		 * The commit action: {@code Connection: close} once readiness is refused, except
		 * on a WebSocket handshake, whose 101 must say {@code Connection: Upgrade}.
		 */
		@Override
		public Mono<Void> get() {
			if (ReactiveInFlightRequests.this.closeConnections && !isUpgrade()) {
				this.response.getHeaders().set(HttpHeaders.CONNECTION, "close");
			}
			return Mono.empty();
		}

		/**
		 * The end of the handling, however it ended: the end of the request too, unless
		 * the server ends it once its response is finished.
		 */
		@Override
		public void accept(SignalType signal) {
			if (!this.endsWhenResponseFinished) {
				end();
			}
		}

		@Override
		public void responseFinished() {
			end();
		}

		void end() {
			end(Boolean.TRUE);
		}

		Mono<Void> writeStream(Publisher<? extends Publisher<? extends DataBuffer>> body) {
			ServerHttpResponse delegate = this.response.getDelegate();
			if (this.awaitStream) {
				return delegate.writeAndFlushWith(body);
			}
			this.streaming = true;
			// The end cancels the application's source on the drain's thread, and Reactor
			// interrupts a scheduler's thread that is emitting when its task is cancelled
			// from another (Flux.interval, the usual SSE source). On Tomcat an interrupted
			// thread's write fails, and the connection is closed with the response cut,
			// not ended: seen in CI. So the writes run on a task of their own, which that
			// cancel never reaches, and the end comes to them as a completion, after what
			// was already emitted. Bounded-elastic: a servlet write may block, and the
			// parallel scheduler's few threads are the application's.
			return delegate.writeAndFlushWith(Flux.from(body)
				.takeUntilOther(ReactiveInFlightRequests.this.streamsEnd.asMono())
				.publishOn(Schedulers.boundedElastic(), 1));
		}

		void cut() {
			this.cut = true;
			// Cancels the handling at once, on this thread; answerIfCut follows.
			this.deadline.tryEmitEmpty();
		}

		Mono<Void> answerIfCut() {
			if (!this.cut) {
				return Mono.empty();
			}
			ServerHttpResponse response = this.response.getDelegate();
			if (response.setStatusCode(HttpStatus.SERVICE_UNAVAILABLE)) {
				response.getHeaders().set(HttpHeaders.CONNECTION, "close");
				response.getHeaders().setContentLength(0);
				return response.setComplete();
			}
			// Committed: failing makes the server close the connection, so that the client
			// does not take a half-written body for a whole one.
			return Mono.error(new CutAtDeadlineException(describe()));
		}

		private boolean isUpgrade() {
			return this.upgrade != null;
		}

		String describe() {
			String description = this.request.getMethod().name() + " " + this.request.getPath().value();
			if (isUpgrade()) {
				String protocol = this.upgrade;
				return description + ("websocket".equalsIgnoreCase(protocol) ? " (WebSocket)"
						: " (upgrade to " + String.valueOf(protocol).toLowerCase(Locale.ROOT) + ")");
			}
			return this.streaming ? description + " (stream)" : description;
		}

	}

	/**
	 * The response the application writes to: as the real one, except that a streaming
	 * body ends as draining starts.
	 */
	private static class TrackedResponse extends ServerHttpResponseDecorator {

		final Exchange exchange;

		TrackedResponse(ServerHttpResponse delegate, Exchange exchange) {
			super(delegate);
			this.exchange = exchange;
		}

		@Override
		public Mono<Void> writeAndFlushWith(Publisher<? extends Publisher<? extends DataBuffer>> body) {
			return this.exchange.writeStream(body);
		}

	}

	/**
	 * A tracked response that keeps the server's zero-copy file transfer, which static
	 * resources use when the response offers it.
	 */
	private static final class ZeroCopyTrackedResponse extends TrackedResponse implements ZeroCopyHttpOutputMessage {

		ZeroCopyTrackedResponse(ServerHttpResponse delegate, Exchange exchange) {
			super(delegate, exchange);
		}

		@Override
		public Mono<Void> writeWith(Path file, long position, long count) {
			return ((ZeroCopyHttpOutputMessage) getDelegate()).writeWith(file, position, count);
		}

	}

	/**
	 * Fails a request whose response was already committed when the deadline cut it.
	 * Without a stack: the server logs it, and where it was thrown says nothing.
	 */
	static final class CutAtDeadlineException extends RuntimeException {

		CutAtDeadlineException(String request) {
			super(request + " was cut at the shutdown deadline with its response partly written", null, false, false);
		}

	}

}
