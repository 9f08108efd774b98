package io.github.gracefulshutdown.web;

import java.lang.reflect.Method;
import java.nio.channels.SelectionKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import org.apache.catalina.Service;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.apache.coyote.AbstractProtocol;
import org.apache.coyote.Processor;
import org.apache.coyote.ProtocolHandler;
import org.apache.tomcat.util.net.AbstractEndpoint;
import org.apache.tomcat.util.net.NioEndpoint;
import org.apache.tomcat.util.net.SocketWrapperBase;
import org.jspecify.annotations.Nullable;

import org.springframework.boot.tomcat.TomcatWebServer;
import org.springframework.boot.web.server.WebServer;
import org.springframework.util.ReflectionUtils;

/**
 * Stops a Tomcat from taking new connections: it closes the server socket, so new
 * connections are refused and keep-alive ends after each connection's current request,
 * and it closes the keep-alive connections that are idle now, so that clients reconnect
 * elsewhere rather than reuse them.
 * <p>
 * Unlike Spring Boot's own drain, this one does not pause the connectors: a paused Tomcat
 * closes, without an answer, every connection whose request it has not started yet,
 * including one whose request was already on the wire when the drain began. Left running,
 * Tomcat serves those requests, and {@link InFlightRequests} counts them (or answers
 * {@code 503} once the requests have drained).
 */
final class TomcatConnectors {

	private static final Log logger = LogFactory.getLog(TomcatConnectors.class);

	// Reading a batch of frames takes microseconds; a lock held longer belongs to a
	// request being served or a WebSocket message being handled.
	private static final Duration READ_WAIT = Duration.ofMillis(10);

	// Tomcat has no public way to reach a protocol's open connections.
	private static final Method GET_ENDPOINT = ReflectionUtils.findMethod(AbstractProtocol.class, "getEndpoint");

	static {
		if (GET_ENDPOINT != null) {
			ReflectionUtils.makeAccessible(GET_ENDPOINT);
		}
	}

	private TomcatConnectors() {
	}

	static boolean isTomcat(WebServer webServer) {
		return webServer instanceof TomcatWebServer;
	}

	/**
	 * Makes every response that the server's connectors commit from now on carry
	 * {@code Connection: close}, where the connector is a {@link GracefulHttp11NioProtocol}.
	 * @return whether every connector does so; if not, the caller adds the header where
	 * it still can
	 */
	static boolean closeConnections(WebServer webServer) {
		boolean all = true;
		for (Service service : ((TomcatWebServer) webServer).getTomcat().getServer().findServices()) {
			for (Connector connector : service.findConnectors()) {
				if (connector.getProtocolHandler() instanceof GracefulHttp11NioProtocol protocol) {
					protocol.closeConnections();
				}
				else {
					all = false;
				}
			}
		}
		return all;
	}

	/**
	 * Closes the server socket of every connector of the server, and its idle
	 * connections.
	 * @param busyConnections connections ({@code address:port}) with a request in flight,
	 * which are never closed here
	 * @return how many idle connections were closed
	 */
	static int stopAccepting(WebServer webServer, Set<String> busyConnections) {
		Tomcat tomcat = ((TomcatWebServer) webServer).getTomcat();
		int closed = 0;
		for (Service service : tomcat.getServer().findServices()) {
			for (Connector connector : service.findConnectors()) {
				ProtocolHandler handler = connector.getProtocolHandler();
				handler.closeServerSocketGraceful();
				closed += closeIdleConnections(handler, busyConnections);
			}
		}
		return closed;
	}

	/**
	 * Sends GOAWAY on every HTTP/2 connection of the server that has not had one yet.
	 * Each connection's processor is paused, as Tomcat does when it closes its server
	 * socket ({@code AbstractEndpoint.closeServerSocketGraceful()} calls
	 * {@code Handler.pause()}); for HTTP/2, {@code Http2UpgradeHandler.pause()} writes
	 * the first, graceful GOAWAY, with the largest stream id and {@code NO_ERROR}.
	 * Streams in flight go on; Tomcat still takes new streams for one round trip (they
	 * may have been on the wire), then answers the next new stream with the final
	 * GOAWAY, naming the last stream it processed, and ignores it, so the client retries
	 * it on a new connection. Other processors (HTTP/1.1, WebSocket) ignore the pause,
	 * and so does an HTTP/2 connection paused already: this may be called again.
	 * <p>
	 * Tomcat's own pass misses a connection whose frames are being read at that moment
	 * (a client's WINDOW_UPDATE after a response is enough): it takes the processor off
	 * the socket while it reads, holding the socket's lock. This one waits for that lock,
	 * briefly, to find the processor; except on connections with a request in flight,
	 * where an HTTP/1.1 request holds the lock for as long as it runs. Those are reached
	 * by {@link #goAway(WebServer, String)} when they open a stream.
	 * @param busyConnections connections ({@code address:port}) with a request in flight
	 */
	static void goAway(WebServer webServer, Set<String> busyConnections) {
		for (AbstractEndpoint<?, ?> endpoint : endpoints(webServer)) {
			for (SocketWrapperBase<?> connection : Set.copyOf(endpoint.getConnections())) {
				if (connection.getCurrentProcessor() != null || !busyConnections.contains(key(connection))) {
					goAway(connection);
				}
			}
		}
	}

	/**
	 * Sends GOAWAY on one HTTP/2 connection, if it has not had one yet: the connection
	 * of a stream that arrived once the drain had begun, which the first pass may have
	 * missed.
	 * @param connection the connection, as {@code address:port} of the client
	 */
	static void goAway(WebServer webServer, String connection) {
		for (AbstractEndpoint<?, ?> endpoint : endpoints(webServer)) {
			for (SocketWrapperBase<?> candidate : endpoint.getConnections()) {
				if (connection.equals(key(candidate))) {
					goAway(candidate);
				}
			}
		}
	}

	private static void goAway(SocketWrapperBase<?> connection) {
		Object processor = connection.getCurrentProcessor();
		if (processor == null && !connection.isClosed()) {
			ReentrantLock lock = connection.getLock();
			try {
				if (!lock.tryLock(READ_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
					return;
				}
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
				return;
			}
			try {
				processor = connection.getCurrentProcessor();
			}
			finally {
				lock.unlock();
			}
		}
		// Pausing needs only the processor, whether it is parked on the socket or not.
		if (processor instanceof Processor found) {
			found.pause();
		}
	}

	private static String key(SocketWrapperBase<?> connection) {
		return InFlightRequests.connection(connection.getRemoteAddr(), connection.getRemotePort());
	}

	private static List<AbstractEndpoint<?, ?>> endpoints(WebServer webServer) {
		Tomcat tomcat = ((TomcatWebServer) webServer).getTomcat();
		List<AbstractEndpoint<?, ?>> endpoints = new ArrayList<>();
		for (Service service : tomcat.getServer().findServices()) {
			for (Connector connector : service.findConnectors()) {
				AbstractEndpoint<?, ?> endpoint = endpoint(connector.getProtocolHandler());
				if (endpoint != null) {
					endpoints.add(endpoint);
				}
			}
		}
		return endpoints;
	}

	private static @Nullable AbstractEndpoint<?, ?> endpoint(ProtocolHandler handler) {
		if (GET_ENDPOINT == null || !(handler instanceof AbstractProtocol<?>)) {
			return null;
		}
		try {
			return (AbstractEndpoint<?, ?>) GET_ENDPOINT.invoke(handler);
		}
		catch (ReflectiveOperationException | RuntimeException ex) {
			logger.warn("Could not reach Tomcat's connections to send HTTP/2 GOAWAY; Tomcat sends it when it stops",
					ex);
			return null;
		}
	}

	private static int closeIdleConnections(ProtocolHandler handler, Set<String> busyConnections) {
		if (GET_ENDPOINT == null || !(handler instanceof AbstractProtocol<?>)) {
			return 0;
		}
		int closed = 0;
		try {
			AbstractEndpoint<?, ?> endpoint = (AbstractEndpoint<?, ?>) GET_ENDPOINT.invoke(handler);
			for (SocketWrapperBase<?> connection : Set.copyOf(endpoint.getConnections())) {
				if (isIdle(connection) && !busyConnections
					.contains(InFlightRequests.connection(connection.getRemoteAddr(), connection.getRemotePort()))) {
					connection.close();
					closed++;
				}
			}
		}
		catch (ReflectiveOperationException | RuntimeException ex) {
			logger.warn("Could not close idle keep-alive connections; Tomcat closes each when its next request "
					+ "arrives", ex);
		}
		return closed;
	}

	/**
	 * Between two requests an NIO connection has no processor attached and waits in the
	 * poller for its next read. A request being served has its processor taken, and an
	 * async one keeps it attached; a request reading its body slowly can look idle, which
	 * is why the caller also excludes connections with a request in flight.
	 */
	private static boolean isIdle(SocketWrapperBase<?> connection) {
		return connection instanceof NioEndpoint.NioSocketWrapper nio && !nio.isClosed()
				&& nio.getCurrentProcessor() == null && (nio.interestOps() & SelectionKey.OP_READ) != 0;
	}

}
