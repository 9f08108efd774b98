package io.github.gracefulshutdown.web;

import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.core.InFlightTracker;
import io.github.gracefulshutdown.core.Units;
import jakarta.servlet.http.HttpServletRequest;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.web.context.request.NativeWebRequest;
import org.springframework.web.context.request.async.DeferredResult;
import org.springframework.web.context.request.async.DeferredResultProcessingInterceptor;
import org.springframework.web.filter.ShallowEtagHeaderFilter;
import org.springframework.web.servlet.config.annotation.AsyncSupportConfigurer;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * Spring MVC's open-ended response streams as a participant: every {@code SseEmitter},
 * {@code ResponseBodyEmitter} and streaming {@code Flux} that a controller returns is
 * completed when draining starts, as its controller would complete it, so that the
 * client sees the end of the stream and an {@code EventSource} reconnects, through the
 * load balancer, to another instance. Without this, one open stream holds the shutdown
 * until the deadline, and its request is reported as a straggler.
 * <p>
 * A stream that starts during the drain is completed at once. Bounded asynchronous
 * requests ({@code DeferredResult}, {@code Callable}, {@code CompletableFuture},
 * {@code StreamingResponseBody}) are not streams: they run to their end, and the web
 * server's drain awaits them. A stream that must be read whole (a bounded export whose
 * client cannot tell a clean end from a cut one) opts out with
 * {@link #awaitStream(HttpServletRequest)}, and is then awaited like any request.
 * <p>
 * A stream is known by what Spring MVC itself does for one: it disables content caching
 * ({@link ShallowEtagHeaderFilter#disableContentCaching}) and then waits on a
 * {@link DeferredResult} that the emitter's completion sets.
 */
public final class ResponseStreams implements DeferredResultProcessingInterceptor, WebMvcConfigurer,
		ShutdownParticipant {

	private static final Log logger = LogFactory.getLog(ResponseStreams.class);

	// ShallowEtagHeaderFilter keeps the name private; it has been this since Spring 4.2.
	private static final String STREAMING_ATTRIBUTE = ShallowEtagHeaderFilter.class.getName() + ".STREAMING";

	private static final String AWAIT_ATTRIBUTE = ResponseStreams.class.getName() + ".AWAIT";

	private final InFlightTracker<Stream> streams = new InFlightTracker<>();

	// Found again on completion, which Spring reports with the DeferredResult.
	private final Map<DeferredResult<?>, Stream> byResult = new ConcurrentHashMap<>();

	/**
	 * Keeps the stream that the handler of this request returns from being ended when
	 * draining starts: it is awaited, like a bounded request, and named at the deadline
	 * if it has not ended by then. Call it from the handler, before it returns the
	 * emitter.
	 * @param request the request whose response is the stream
	 */
	public static void awaitStream(HttpServletRequest request) {
		request.setAttribute(AWAIT_ATTRIBUTE, Boolean.TRUE);
	}

	@Override
	public void configureAsyncSupport(AsyncSupportConfigurer configurer) {
		configurer.registerDeferredResultInterceptors(this);
	}

	@Override
	public <T> void preProcess(NativeWebRequest request, DeferredResult<T> deferredResult) {
		HttpServletRequest servletRequest = request.getNativeRequest(HttpServletRequest.class);
		if (servletRequest == null || servletRequest.getAttribute(STREAMING_ATTRIBUTE) == null
				|| servletRequest.getAttribute(AWAIT_ATTRIBUTE) != null) {
			return;
		}
		Stream stream = new Stream(servletRequest.getMethod() + " " + servletRequest.getRequestURI(), deferredResult);
		if (!this.streams.begin(stream)) {
			// Draining already: a client that reconnected here is sent elsewhere at once.
			stream.complete();
			return;
		}
		// Put after begin without a race: the servlet container runs no completion of
		// this request before its first dispatch, which is still in here, returns.
		this.byResult.put(deferredResult, stream);
	}

	@Override
	public <T> void afterCompletion(NativeWebRequest request, DeferredResult<T> deferredResult) {
		Stream stream = this.byResult.remove(deferredResult);
		if (stream != null) {
			stream.ended();
		}
	}

	@Override
	public String name() {
		return Units.STREAM;
	}

	/**
	 * Completes every open stream, and any that opens from now on.
	 * @return a stage that completes when the last stream's response has completed
	 */
	@Override
	public CompletionStage<?> drain() {
		CompletableFuture<Void> ended = this.streams.drain();
		List<Stream> open = this.streams.active();
		if (!open.isEmpty()) {
			logger.info("Ending " + open.size() + " open response stream" + ((open.size() != 1) ? "s" : "")
					+ " so that clients reconnect elsewhere (first: " + open.get(0).description + ")");
		}
		open.forEach(Stream::complete);
		return ended;
	}

	/**
	 * Counts open streams once there has been one: an application that never streams
	 * reads no {@code 0 streams} in its log.
	 */
	@Override
	public OptionalLong inFlightCount() {
		long active = this.streams.activeCount();
		return (active > 0 || this.streams.completedCount() > 0) ? OptionalLong.of(active) : OptionalLong.empty();
	}

	@Override
	public OptionalLong completedCount() {
		long completed = this.streams.completedCount();
		return (completed > 0 || this.streams.activeCount() > 0) ? OptionalLong.of(completed) : OptionalLong.empty();
	}

	@Override
	public List<InFlight> inFlight() {
		return this.streams.active()
			.stream()
			.map((stream) -> new InFlight(stream.description, stream.startedAt(), null))
			.toList();
	}

	private static final class Stream extends InFlightTracker.Entry {

		private final String description;

		private final DeferredResult<?> result;

		Stream(String description, DeferredResult<?> result) {
			// No thread: a stream is written from wherever its emitter is called.
			super(null);
			this.description = description;
			this.result = result;
		}

		/**
		 * Completes the stream as {@code emitter.complete()} does: the emitter's own
		 * completion callbacks run, and a later {@code send} fails, as it would on a
		 * stream that its client closed.
		 */
		void complete() {
			this.result.setResult(null);
		}

		void ended() {
			end(Boolean.TRUE);
		}

	}

}
