package io.github.gracefulshutdown.web;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import io.github.gracefulshutdown.ShutdownToken;
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
 * The open WebFlux WebSocket sessions, closed with {@code 1001 Going Away} as draining
 * starts (when the shutdown token is cancelled), so that their clients reconnect to
 * another instance instead of holding the drain until the deadline. A session that
 * opens during the drain is closed as soon as it opens.
 * <p>
 * Sessions are seen through the {@link WebSocketService} of Spring's
 * {@link WebSocketHandlerAdapter}, which {@link AdapterPostProcessor} wraps, whatever
 * service (Spring's {@code HandshakeWebSocketService} by default, or one of your own)
 * it uses. On Reactor Netty a session is also the upgrade request that
 * {@link ReactiveInFlightRequests} counts until the session ends; on Tomcat the upgrade
 * request ends with the handshake, and the session is not counted.
 */
public final class WebSocketSessions {

	private static final Log logger = LogFactory.getLog(WebSocketSessions.class);

	private final Set<WebSocketSession> open = ConcurrentHashMap.newKeySet();

	private volatile boolean goingAway;

	/**
	 * Creates the sessions, closed when the token is cancelled.
	 * @param token the shutdown token, cancelled as draining starts
	 */
	public WebSocketSessions(ShutdownToken token) {
		token.onShutdown(this::goAway);
	}

	/**
	 * Returns a service that hands every session to the given one and keeps it here
	 * while it is open.
	 * @param service the service that performs the handshake
	 * @return the tracking service
	 */
	public WebSocketService track(WebSocketService service) {
		return (exchange, handler) -> service.handleRequest(exchange, new TrackingHandler(handler));
	}

	/**
	 * Returns how many sessions are open.
	 * @return the count
	 */
	public int openCount() {
		return this.open.size();
	}

	/**
	 * Closes every open session with {@code 1001 Going Away}, and every later one as it
	 * opens.
	 */
	void goAway() {
		this.goingAway = true;
		List<WebSocketSession> sessions = List.copyOf(this.open);
		sessions.forEach(WebSocketSessions::close);
		if (!sessions.isEmpty()) {
			logger.info("Closing " + sessions.size() + " WebSocket session" + ((sessions.size() == 1) ? "" : "s")
					+ " with 1001 (going away) as draining started");
		}
	}

	private static void close(WebSocketSession session) {
		// Off the calling thread: closing a Tomcat session writes the close frame in a
		// blocking call, which a client that does not read would hold.
		Mono.defer(() -> session.close(CloseStatus.GOING_AWAY))
			.subscribeOn(Schedulers.boundedElastic())
			.subscribe(null, (ex) -> logger.debug("Could not close WebSocket session " + session.getId(), ex));
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
			Set<WebSocketSession> open = WebSocketSessions.this.open;
			open.add(session);
			// Added, then checked: either goAway() sees the session or we see goingAway.
			if (WebSocketSessions.this.goingAway) {
				close(session);
			}
			try {
				return this.delegate.handle(session).doFinally((signal) -> open.remove(session));
			}
			catch (RuntimeException | Error ex) {
				open.remove(session);
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
