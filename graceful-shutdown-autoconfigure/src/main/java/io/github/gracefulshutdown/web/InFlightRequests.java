package io.github.gracefulshutdown.web;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import io.github.gracefulshutdown.ShutdownParticipant;
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

import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.ApplicationListener;
import org.springframework.http.HttpHeaders;

/**
 * Counts the requests in flight, including long-lived async ones (SSE,
 * {@code DeferredResult}, streaming), which stay counted until their async context
 * completes.
 * <p>
 * From the moment readiness becomes REFUSING_TRAFFIC, every response carries
 * {@code Connection: close}, so clients stop reusing connections to an instance that is
 * about to go away: set before the handler runs for requests that arrive from then on,
 * and after it for requests already in flight, if their response is not committed yet.
 * A response committed earlier (flushed, streamed, or larger than the response buffer)
 * cannot get the header; Tomcat still closes its connection after it once draining.
 * <p>
 * Once draining has begun and the last request in flight has ended, the shutdown moves on
 * to destroy the beans that requests use. A request that still arrives then, on a
 * connection opened before the drain, is answered {@code 503 Service Unavailable} with
 * {@code Connection: close} instead of being run against a closing application, so the
 * client knows it was not processed.
 * <p>
 * Counting costs one atomic increment and one concurrent-set entry per request.
 */
public final class InFlightRequests implements Filter, ApplicationListener<AvailabilityChangeEvent<ReadinessState>> {

	private static final Log logger = LogFactory.getLog(InFlightRequests.class);

	private final AtomicLong active = new AtomicLong();

	private final LongAdder finished = new LongAdder();

	private final LongAdder refused = new LongAdder();

	private final AtomicBoolean refusing = new AtomicBoolean();

	private final Set<Request> requests = ConcurrentHashMap.newKeySet();

	private final CompletableFuture<Void> drained = new CompletableFuture<>();

	private volatile boolean closeConnections;

	private volatile boolean draining;

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
		this.active.incrementAndGet();
		// Counted before checking, so a request either holds the drain open or sees it
		// done; ended() does the reverse.
		if (this.drained.isDone()) {
			this.active.decrementAndGet();
			if (this.refusing.compareAndSet(false, true)) {
				// Once, not per request: clients may keep sending on open connections.
				logger.info("Requests have drained; answering requests that still arrive with 503 (first: "
						+ request.getMethod() + " " + request.getRequestURI() + ")");
			}
			this.refused.increment();
			// No error page: rendering one needs the beans that are being destroyed.
			response.setStatus(HttpServletResponse.SC_SERVICE_UNAVAILABLE);
			response.setHeader(HttpHeaders.CONNECTION, "close");
			response.setContentLength(0);
			return;
		}
		Request inFlight = new Request(this, request.getMethod(), request.getRequestURI(), request.getRemoteAddr(),
				request.getRemotePort());
		this.requests.add(inFlight);
		if (this.closeConnections) {
			// Set up front: a handler may commit the response (a converter that flushes)
			// before it returns to us.
			response.setHeader(HttpHeaders.CONNECTION, "close");
		}
		try {
			chain.doFilter(request, response);
		}
		finally {
			if (request.isAsyncStarted()) {
				inFlight.goAsync(request.getAsyncContext());
			}
			else {
				if (this.closeConnections && !response.isCommitted()) {
					response.setHeader(HttpHeaders.CONNECTION, "close");
				}
				inFlight.end();
			}
		}
	}

	@Override
	public void onApplicationEvent(AvailabilityChangeEvent<ReadinessState> event) {
		if (event.getState() == ReadinessState.REFUSING_TRAFFIC) {
			this.closeConnections = true;
		}
	}

	/**
	 * Returns how many requests are in flight.
	 * @return the count
	 */
	public long activeCount() {
		return this.active.get();
	}

	/**
	 * Returns how many requests have completed since the application started.
	 * @return the count
	 */
	public long finishedCount() {
		return this.finished.sum();
	}

	/**
	 * How many requests arrived after the drain had finished and were answered
	 * {@code 503}.
	 */
	long refusedCount() {
		return this.refused.sum();
	}

	/**
	 * Returns the requests in flight, oldest first. A synchronous request names the
	 * thread serving it; an async one names none.
	 * @return a snapshot
	 */
	public List<ShutdownParticipant.InFlight> inFlight() {
		List<ShutdownParticipant.InFlight> inFlight = new ArrayList<>();
		for (Request request : this.requests) {
			inFlight.add(new ShutdownParticipant.InFlight(request.method + " " + request.uri,
					Instant.ofEpochMilli(request.startedAt),
					(request.asyncContext == null) ? request.thread : null));
		}
		inFlight.sort(Comparator.comparing(ShutdownParticipant.InFlight::startedAt));
		return inFlight;
	}

	/**
	 * Returns the client connections that carry a request in flight, as
	 * {@code address:port}.
	 */
	Set<String> busyConnections() {
		Set<String> busy = new HashSet<>();
		for (Request request : this.requests) {
			busy.add(connection(request.remoteAddress, request.remotePort));
		}
		return busy;
	}

	static String connection(String address, int port) {
		return address + ":" + port;
	}

	/**
	 * From now on, completes the returned future on the end of the last request in
	 * flight (at once if there is none).
	 * @return a future that completes when no request is in flight
	 */
	CompletableFuture<Void> drain() {
		this.closeConnections = true;
		this.draining = true;
		// Publish 'draining' before reading the count; end() does the reverse.
		if (this.active.get() == 0) {
			this.drained.complete(null);
		}
		return this.drained;
	}

	/**
	 * Completes every async request still in flight, so long-lived streams end at the
	 * deadline.
	 */
	void completeAsyncRequests() {
		for (Request request : this.requests) {
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
	}

	private void ended(Request request) {
		this.requests.remove(request);
		this.finished.increment();
		if (this.active.decrementAndGet() == 0 && this.draining) {
			this.drained.complete(null);
		}
	}

	private static final class Request implements AsyncListener {

		// A field set through a VarHandle: no AtomicBoolean to allocate per request.
		private static final VarHandle ENDED;

		static {
			try {
				ENDED = MethodHandles.lookup().findVarHandle(Request.class, "ended", boolean.class);
			}
			catch (ReflectiveOperationException ex) {
				throw new ExceptionInInitializerError(ex);
			}
		}

		private final InFlightRequests owner;

		// Kept apart and joined only when listed: building strings here would cost every
		// request an allocation or two for a listing that rarely happens.
		private final String method;

		private final String uri;

		private final String remoteAddress;

		private final int remotePort;

		private final long startedAt = System.currentTimeMillis();

		private final Thread thread = Thread.currentThread();

		private final int hash = ThreadLocalRandom.current().nextInt();

		private volatile boolean ended;

		private volatile AsyncContext asyncContext;

		Request(InFlightRequests owner, String method, String uri, String remoteAddress, int remotePort) {
			this.owner = owner;
			this.method = method;
			this.uri = uri;
			this.remoteAddress = remoteAddress;
			this.remotePort = remotePort;
		}

		void goAsync(AsyncContext context) {
			this.asyncContext = context;
			context.addListener(this);
		}

		void end() {
			if (ENDED.compareAndSet(this, false, true)) {
				this.owner.ended(this);
			}
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
				goAsync(context);
			}
		}

		@Override
		public int hashCode() {
			return this.hash;
		}

		@Override
		public boolean equals(Object obj) {
			return this == obj;
		}

	}

}
