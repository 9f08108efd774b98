package io.github.gracefulshutdown.web;

import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.core.InFlightTracker;
import io.github.gracefulshutdown.core.Units;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.boot.web.server.WebServer;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationListener;
import org.springframework.http.HttpHeaders;
import org.springframework.util.ClassUtils;

/**
 * A servlet web server as a participant of the one shutdown: a filter counts the
 * requests in flight, including long-lived async ones (SSE, {@code DeferredResult},
 * streaming), which stay counted until their async context completes; the drain stops
 * the server taking new connections and completes on the last request's end.
 * <p>
 * With Tomcat the drain is ours: server sockets closed, idle keep-alive connections
 * closed ({@link TomcatConnectors}); Spring Boot's own Tomcat drain is made immediate, so
 * its later phase has nothing to wait for and logs no second drain. With another servlet
 * server (Jetty), Spring Boot's own graceful shutdown closes the connectors, started from
 * here inside our deadline.
 * <p>
 * From the moment readiness becomes REFUSING_TRAFFIC, every response committed carries
 * {@code Connection: close}, so clients stop reusing connections to an instance that is
 * about to go away. On Tomcat the connector adds it when it writes the headers
 * ({@link GracefulHttp11NioProtocol}), whatever commits the response; on another server
 * this filter sets it before the handler runs for requests that arrive from then on,
 * and after it for requests already in flight whose response is not committed yet.
 * Once draining has begun, a WebSocket handshake is answered {@code 503}: its session
 * would outlive the drain, and the client can open it on another instance.
 * <p>
 * HTTP/2 has no {@code Connection} header: its responses never get one. With Tomcat,
 * every HTTP/2 connection gets GOAWAY at drain start instead; its streams in flight
 * finish, and its client opens new streams on a new connection, elsewhere.
 * <p>
 * Once draining has begun and the last request in flight has ended, the shutdown moves on
 * to destroy the beans that requests use. A request that still arrives then, on a
 * connection opened before the drain, is answered {@code 503 Service Unavailable} with
 * {@code Connection: close} instead of being run against a closing application, so the
 * client knows it was not processed.
 * <p>
 * Requests are entries of an {@link InFlightTracker}, as jobs are: counting one costs an
 * allocation, a clock read and two compare-and-sets on a stripe of the calling thread.
 */
public final class InFlightRequests
		implements Filter, ShutdownParticipant, ApplicationListener<AvailabilityChangeEvent<ReadinessState>> {

	private static final Log logger = LogFactory.getLog(InFlightRequests.class);

	private static final boolean TOMCAT_PRESENT = ClassUtils.isPresent("org.springframework.boot.tomcat.TomcatWebServer",
			InFlightRequests.class.getClassLoader());

	private final ApplicationContext context;

	private final InFlightTracker<Request> requests = new InFlightTracker<>();

	private final LongAdder refused = new LongAdder();

	private final AtomicBoolean refusing = new AtomicBoolean();

	private volatile boolean closeConnections;

	private volatile boolean draining;

	// Set once, as Tomcat starts, before any request: then the server ends requests.
	private volatile boolean responsesFinishRequests;

	// Set at drain start on Tomcat: GOAWAY on the HTTP/2 connection (address:port) given.
	private volatile @Nullable Consumer<String> goAway;

	/**
	 * Creates the counter for the context's own web server.
	 * @param context the application context that runs the server
	 */
	public InFlightRequests(ApplicationContext context) {
		this.context = context;
	}

	/**
	 * Counts a request from its first dispatch until its response is complete. Meant for
	 * {@link DispatcherType#REQUEST} only, and it lets any other dispatch through
	 * uncounted: the later dispatches of an async request belong to a request already
	 * counted until its async context completes, and an error dispatch to one already
	 * ended.
	 */
	@Override
	public void doFilter(ServletRequest servletRequest, ServletResponse servletResponse, FilterChain chain)
			throws IOException, ServletException {
		if (!(servletRequest instanceof HttpServletRequest request)
				|| !(servletResponse instanceof HttpServletResponse response)
				|| request.getDispatcherType() != DispatcherType.REQUEST) {
			chain.doFilter(servletRequest, servletResponse);
			return;
		}
		if (this.draining && isWebSocketHandshake(request)) {
			this.refused.increment();
			answerUnavailable(request, response);
			return;
		}
		Request inFlight = new Request(request.getMethod(), request.getRequestURI(), request.getRemoteAddr(),
				request.getRemotePort());
		// Counted before checking, so a request either holds the drain open or sees it done.
		if (!this.requests.begin(inFlight)) {
			refuse(request, response);
			return;
		}
		if (this.responsesFinishRequests) {
			request.setAttribute(EndsWhenResponseFinished.ATTRIBUTE, inFlight);
		}
		if (this.closeConnections) {
			if (isHttp2(request)) {
				goAway(request);
			}
			else {
				// Set up front: a handler may commit the response (a converter that flushes)
				// before it returns to us.
				response.setHeader(HttpHeaders.CONNECTION, "close");
			}
		}
		try {
			chain.doFilter(request, response);
		}
		finally {
			boolean endsHere = !this.responsesFinishRequests;
			if (request.isAsyncStarted()) {
				inFlight.goAsync(request.getAsyncContext(), endsHere);
			}
			else {
				if (this.closeConnections && !response.isCommitted() && !isHttp2(request)) {
					response.setHeader(HttpHeaders.CONNECTION, "close");
				}
				if (endsHere) {
					inFlight.end();
				}
			}
		}
	}

	/**
	 * Leaves the end of every request from now on to the server, which ends it once it
	 * has finished writing the response ({@link TomcatResponsesFinished}).
	 */
	void endRequestsWhenResponsesFinish() {
		this.responsesFinishRequests = true;
	}

	private static boolean isWebSocketHandshake(HttpServletRequest request) {
		return "websocket".equalsIgnoreCase(request.getHeader(HttpHeaders.UPGRADE));
	}

	private void refuse(HttpServletRequest request, HttpServletResponse response) {
		if (this.refusing.compareAndSet(false, true)) {
			// Once, not per request: clients may keep sending on open connections.
			logger.info("Requests have drained; answering requests that still arrive with 503 (first: "
					+ request.getMethod() + " " + request.getRequestURI() + ")");
		}
		this.refused.increment();
		answerUnavailable(request, response);
	}

	private void answerUnavailable(HttpServletRequest request, HttpServletResponse response) {
		// No error page: rendering one needs the beans that are being destroyed.
		response.setStatus(HttpServletResponse.SC_SERVICE_UNAVAILABLE);
		if (isHttp2(request)) {
			goAway(request);
		}
		else {
			response.setHeader(HttpHeaders.CONNECTION, "close");
		}
		response.setContentLength(0);
	}

	/**
	 * Whether the request came on an HTTP/2 stream. HTTP/2 forbids {@code Connection}
	 * and every other connection-specific header (RFC 9113, 8.2.2), and Tomcat sends what
	 * it is given: clients reject such a response whole (the JDK's {@code HttpClient}:
	 * "Prohibited header name 'connection'"; curl: "HTTP/2 framing layer"). An HTTP/2
	 * connection is ended with GOAWAY instead.
	 */
	private static boolean isHttp2(HttpServletRequest request) {
		return "HTTP/2.0".equals(request.getProtocol());
	}

	/**
	 * A stream opened once the drain has begun may come on an HTTP/2 connection that the
	 * GOAWAY at drain start missed ({@link TomcatConnectors#goAway(WebServer, Set)}):
	 * that connection gets it now, or ignores it if it had it.
	 */
	private void goAway(HttpServletRequest request) {
		Consumer<String> goAway = this.goAway;
		if (goAway != null) {
			goAway.accept(connection(request.getRemoteAddr(), request.getRemotePort()));
		}
	}

	@Override
	public void onApplicationEvent(AvailabilityChangeEvent<ReadinessState> event) {
		if (event.getState() == ReadinessState.REFUSING_TRAFFIC) {
			closeConnections();
		}
	}

	private void closeConnections() {
		this.closeConnections = true;
		WebServer webServer = WebServerDrain.webServer(this.context);
		if (TOMCAT_PRESENT && webServer != null && TomcatConnectors.isTomcat(webServer)) {
			TomcatConnectors.closeConnections(webServer);
		}
	}

	// ---- ShutdownParticipant --------------------------------------------------------

	@Override
	public String name() {
		return Units.REQUEST;
	}

	/**
	 * Stops the server taking new connections and completes on the end of the last
	 * request in flight (at once if there is none). From then on, requests that still
	 * arrive are answered {@code 503}.
	 */
	@Override
	public CompletionStage<?> drain() {
		this.draining = true;
		closeConnections();
		CompletableFuture<Void> requestsEnded = this.requests.drain();
		WebServer webServer = WebServerDrain.webServer(this.context);
		if (webServer == null) {
			return requestsEnded;
		}
		if (TOMCAT_PRESENT && TomcatConnectors.isTomcat(webServer)) {
			Set<String> busy = busyConnections();
			int idle = TomcatConnectors.stopAccepting(webServer, busy);
			// Closing the server socket sent it already, to the HTTP/2 connections Tomcat
			// found, unless Tomcat bound on init (then it closes nothing).
			TomcatConnectors.goAway(webServer, busy);
			this.goAway = (connection) -> TomcatConnectors.goAway(webServer, connection);
			logger.debug("Tomcat stopped accepting connections; closed " + idle + " idle keep-alive connections");
			return requestsEnded;
		}
		return CompletableFuture.allOf(requestsEnded, WebServerDrain.startBootGracefulShutdown(this.context));
	}

	@Override
	public OptionalLong inFlightCount() {
		return OptionalLong.of(this.requests.activeCount());
	}

	@Override
	public OptionalLong completedCount() {
		return OptionalLong.of(this.requests.completedCount());
	}

	/**
	 * Returns the requests in flight, oldest first. A synchronous request names the
	 * thread serving it; an async one names none.
	 */
	@Override
	public List<InFlight> inFlight() {
		return this.requests.active()
			.stream()
			.map((request) -> new InFlight(request.method + " " + request.uri, request.startedAt(), request.thread()))
			.toList();
	}

	/**
	 * Refuses every later request and completes the async requests still in flight, so
	 * long-lived streams end at the deadline.
	 */
	@Override
	public List<InFlight> deadlinePassed() {
		this.requests.close();
		List<InFlight> left = inFlight();
		for (Request request : this.requests.active()) {
			AsyncContext context = request.asyncContext;
			if (context != null) {
				try {
					context.complete();
				}
				catch (IllegalStateException ex) {
					// Already completing on another thread.
				}
			}
		}
		return left;
	}

	/**
	 * How many requests were answered {@code 503}: those that arrived after the drain had
	 * finished, and WebSocket handshakes during it.
	 */
	long refusedCount() {
		return this.refused.sum();
	}

	/**
	 * Returns the client connections that carry a request in flight, as
	 * {@code address:port}.
	 */
	Set<String> busyConnections() {
		Set<String> busy = new HashSet<>();
		for (Request request : this.requests.collect()) {
			busy.add(connection(request.remoteAddress, request.remotePort));
		}
		return busy;
	}

	static String connection(String address, int port) {
		return address + ":" + port;
	}

	private static final class Request extends InFlightTracker.Entry implements AsyncListener, EndsWhenResponseFinished {

		// Kept apart and joined only when listed: building strings here would cost every
		// request an allocation or two for a listing that rarely happens.
		private final String method;

		private final String uri;

		private final String remoteAddress;

		private final int remotePort;

		private volatile @Nullable AsyncContext asyncContext;

		Request(String method, String uri, String remoteAddress, int remotePort) {
			super(Thread.currentThread());
			this.method = method;
			this.uri = uri;
			this.remoteAddress = remoteAddress;
			this.remotePort = remotePort;
		}

		/**
		 * Marks the request as waiting asynchronously.
		 * @param context its async context
		 * @param endsOnCompletion whether it ends when the context completes, rather than
		 * when the server reports its response finished
		 */
		void goAsync(AsyncContext context, boolean endsOnCompletion) {
			// Waiting asynchronously: no thread of ours to report or interrupt.
			runOn(null);
			this.asyncContext = context;
			if (endsOnCompletion) {
				context.addListener(this);
			}
		}

		void end() {
			end(Boolean.TRUE);
		}

		@Override
		public void responseFinished() {
			end();
		}

		@Override
		public void onComplete(AsyncEvent event) {
			end();
		}

		@Override
		public void onTimeout(AsyncEvent event) {
			end();
		}

		@Override
		public void onError(AsyncEvent event) {
			end();
		}

		@Override
		public void onStartAsync(AsyncEvent event) {
			// A restarted async cycle needs the listener again.
			AsyncContext context = event.getAsyncContext();
			if (context != null) {
				goAsync(context, true);
			}
		}

	}

}
