package io.github.gracefulshutdown.web;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import io.github.gracefulshutdown.ShutdownParticipant;
import jakarta.servlet.ServletContext;
import jakarta.websocket.server.ServerContainer;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.apache.tomcat.websocket.WsWebSocketContainer;

import org.springframework.web.context.WebApplicationContext;

/**
 * Tomcat's WebSocket sessions as a participant: when draining starts, every open session
 * is closed with {@code 1001 Going Away}, so that its client reconnects, through the load
 * balancer, to another instance, instead of holding the shutdown until the deadline.
 * That covers every WebSocket Tomcat serves: Spring's raw {@code WebSocketHandler}s, STOMP
 * over WebSocket, and plain {@code @ServerEndpoint}s. A handshake that arrives during the
 * drain is answered {@code 503} by {@link InFlightRequests}.
 * <p>
 * The close is Tomcat's own, the one it makes when the web application stops: it sends
 * the close frame and lets the client answer. Sessions are not counted: Tomcat does not
 * say how many are open.
 */
public final class TomcatWebSocketSessions implements ShutdownParticipant {

	private static final Log logger = LogFactory.getLog(TomcatWebSocketSessions.class);

	private final WebApplicationContext context;

	/**
	 * Creates the participant for the context's own servlet container.
	 * @param context the application context that runs the server
	 */
	public TomcatWebSocketSessions(WebApplicationContext context) {
		this.context = context;
	}

	@Override
	public String name() {
		return "WebSocket session";
	}

	@Override
	public CompletionStage<?> drain() {
		ServletContext servletContext = this.context.getServletContext();
		Object container = (servletContext != null) ? servletContext.getAttribute(ServerContainer.class.getName())
				: null;
		if (container instanceof WsWebSocketContainer tomcat) {
			// Closes every session with 1001; the container stays usable, and Tomcat's own
			// close at undeploy finds nothing left to close.
			tomcat.destroy();
			logger.debug("Closed the open WebSocket sessions with 1001 Going Away");
		}
		return CompletableFuture.completedFuture(null);
	}

	@Override
	public List<InFlight> inFlight() {
		return List.of();
	}

}
