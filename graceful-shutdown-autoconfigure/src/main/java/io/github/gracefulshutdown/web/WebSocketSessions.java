package io.github.gracefulshutdown.web;

import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletionStage;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.core.InFlightTracker;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.web.reactive.socket.CloseStatus;
import org.springframework.web.reactive.socket.WebSocketHandler;
import org.springframework.web.reactive.socket.WebSocketSession;
import org.springframework.web.reactive.socket.server.WebSocketService;
import org.springframework.web.reactive.socket.server.support.WebSocketHandlerAdapter;

/**
 * The WebFlux WebSocket sessions as a participant of the one shutdown: as draining
 * starts, every open session is closed with {@code 1001 Going Away}, so that its client
 * reconnects to another instance instead of holding the drain until the deadline, and
 * the drain completes when the last session has ended. A session that opens during the
 * drain is closed as soon as it opens.
 * <p>
 * Sessions are seen through the {@link WebSocketService} of Spring's
 * {@link WebSocketHandlerAdapter}, which {@link AdapterPostProcessor} wraps, whatever
 * service (Spring's {@code HandshakeWebSocketService} by default, or one of your own)
 * it uses. They are not requests: on Reactor Netty and Tomcat alike the handshake
 * request ends with the upgrade, and the session lives on after it. They are counted
 * here, once one has opened: until then this participant claims no count, so that an
 * application without WebSockets reads no {@code 0 WebSocket sessions} in its log.
 */
public final class WebSocketSessions implements ShutdownParticipant {

	/** The unit: {@code "draining: 1 request, 2 WebSocket sessions"}. */
	public static final String UNIT = "WebSocket session";

	private static final Log logger = LogFactory.getLog(WebSocketSessions.class);

	private final InFlightTracker<Session> sessions = new InFlightTracker<>();

	private volatile boolean opened;

	private volatile boolean goingAway;

	/**
	 * Returns a service that hands every session to the given one and counts it while it
	 * is open.
	 * @param service the service that performs the handshake
	 * @return the tracking service
	 */
	public WebSocketService track(WebSocketService service) {
		return (exchange, handler) -> service.handleRequest(exchange, new TrackingHandler(handler));
	}

	@Override
	public String name() {
		return UNIT;
	}

	/**
	 * Closes every open session with {@code 1001 Going Away}, and every later one as it
	 * opens, and completes when the last has ended.
	 */
	@Override
	public CompletionStage<?> drain() {
		this.goingAway = true;
		List<Session> open = this.sessions.active();
		open.forEach(Session::close);
		if (!open.isEmpty()) {
			logger.info("Closing " + open.size() + " WebSocket session" + ((open.size() == 1) ? "" : "s")
					+ " with 1001 (going away) as draining started");
		}
		return this.sessions.drain();
	}

	@Override
	public OptionalLong inFlightCount() {
		return this.opened ? OptionalLong.of(this.sessions.activeCount()) : OptionalLong.empty();
	}

	@Override
	public OptionalLong completedCount() {
		return this.opened ? OptionalLong.of(this.sessions.completedCount()) : OptionalLong.empty();
	}

	/**
	 * Returns the open sessions, oldest first, as {@code WebSocket /ws}.
	 */
	@Override
	public List<InFlight> inFlight() {
		return this.sessions.active()
			.stream()
			.map((session) -> new InFlight(session.describe(), session.startedAt(), null))
			.toList();
	}

	/**
	 * Refuses later sessions and names those still open: they were asked to close as
	 * draining started, and the server's own stop closes what is left.
	 */
	@Override
	public List<InFlight> deadlinePassed() {
		this.sessions.close();
		return inFlight();
	}

	/**
	 * One open session.
	 */
	private static final class Session extends InFlightTracker.Entry {

		private final WebSocketSession session;

		Session(WebSocketSession session) {
			super(null);
			this.session = session;
		}

		void end() {
			end(Boolean.TRUE);
		}

		void close() {
			// Off the calling thread: closing a Tomcat session writes the close frame in a
			// blocking call, which a client that does not read would hold.
			Mono.defer(() -> this.session.close(CloseStatus.GOING_AWAY))
				.subscribeOn(Schedulers.boundedElastic())
				.subscribe(null, (ex) -> logger.debug("Could not close " + describe(), ex));
		}

		String describe() {
			return "WebSocket " + this.session.getHandshakeInfo().getUri().getPath();
		}

	}

	private final class TrackingHandler implements WebSocketHandler {

		private final WebSocketHandler delegate;

		TrackingHandler(WebSocketHandler delegate) {
			this.delegate = delegate;
		}

		@Override
		public List<String> getSubProtocols() {
			return this.delegate.getSubProtocols();
		}

		@Override
		public Mono<Void> handle(WebSocketSession session) {
			WebSocketSessions.this.opened = true;
			Session open = new Session(session);
			if (!WebSocketSessions.this.sessions.begin(open)) {
				// Drained: the application is closing.
				return session.close(CloseStatus.GOING_AWAY);
			}
			// Begun, then checked: either drain() lists the session or we see goingAway.
			if (WebSocketSessions.this.goingAway) {
				open.close();
			}
			try {
				return this.delegate.handle(session).doFinally((signal) -> open.end());
			}
			catch (RuntimeException | Error ex) {
				open.end();
				throw ex;
			}
		}

	}

	/**
	 * Replaces Spring's {@link WebSocketHandlerAdapter} with one whose service tracks the
	 * sessions, in the same order. A subclass of the adapter is left alone: it may
	 * handle requests its own way.
	 */
	public static final class AdapterPostProcessor implements BeanPostProcessor {

		private final ObjectProvider<WebSocketSessions> sessions;

		/**
		 * Creates the post-processor.
		 * @param sessions the sessions, looked up when the adapter is created
		 */
		public AdapterPostProcessor(ObjectProvider<WebSocketSessions> sessions) {
			this.sessions = sessions;
		}

		@Override
		public Object postProcessAfterInitialization(Object bean, String beanName) {
			if (bean.getClass() != WebSocketHandlerAdapter.class) {
				return bean;
			}
			WebSocketSessions sessions = this.sessions.getIfAvailable();
			if (sessions == null) {
				return bean;
			}
			WebSocketHandlerAdapter adapter = (WebSocketHandlerAdapter) bean;
			WebSocketHandlerAdapter tracking = new WebSocketHandlerAdapter(sessions.track(adapter.getWebSocketService()));
			tracking.setOrder(adapter.getOrder());
			return tracking;
		}

	}

}
