package io.github.gracefulshutdown.web;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import io.github.gracefulshutdown.ShutdownParticipant;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.web.server.WebServer;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ApplicationContext;
import org.springframework.context.SmartLifecycle;
import org.springframework.util.ClassUtils;

/**
 * The web server as a participant of the one shutdown: it stops taking new work and
 * reports done when the last request in flight has ended.
 * <p>
 * With Tomcat serving servlets the drain is ours: server sockets closed, idle keep-alive
 * connections closed, completion signalled by the last request's end rather than by
 * polling. Spring Boot's own graceful shutdown is switched to immediate for Tomcat, so
 * its later phase has nothing to wait for and logs no second drain. With another server (Jetty, Netty)
 * Spring Boot's own graceful shutdown does the draining, started from here, inside our
 * deadline; its later phase then finds it already stopped.
 * <p>
 * Only the application's own server is drained: a management server on a separate port
 * lives in a child context that closes after the shutdown sequence, so actuator stays
 * reachable while it runs.
 */
public final class WebServerDrain implements ShutdownParticipant {

	private static final Log logger = LogFactory.getLog(WebServerDrain.class);

	private static final String BOOT_GRACEFUL_SHUTDOWN_BEAN = "webServerGracefulShutdown";

	private static final boolean TOMCAT_PRESENT = ClassUtils.isPresent("org.springframework.boot.tomcat.TomcatWebServer",
			WebServerDrain.class.getClassLoader());

	private final ApplicationContext context;

	private final ObjectProvider<InFlightRequests> requests;

	/**
	 * Creates a drain for the context's own web server.
	 * @param context the application context that runs the server
	 * @param requests the servlet request counter, absent in a reactive application
	 */
	public WebServerDrain(ApplicationContext context, ObjectProvider<InFlightRequests> requests) {
		this.context = context;
		this.requests = requests;
	}

	@Override
	public String name() {
		return "request";
	}

	@Override
	public CompletionStage<?> drain() {
		InFlightRequests requests = this.requests.getIfAvailable();
		CompletableFuture<Void> requestsEnded = (requests != null) ? requests.drain()
				: CompletableFuture.completedFuture(null);
		WebServer webServer = webServer();
		if (webServer == null) {
			return requestsEnded;
		}
		// Our own Tomcat drain needs the request counter to know when it is done; a
		// reactive Tomcat has none and keeps Spring Boot's drain.
		if (requests != null && TOMCAT_PRESENT && TomcatConnectors.isTomcat(webServer)) {
			int idle = TomcatConnectors.stopAccepting(webServer, requests.busyConnections());
			logger.debug("Tomcat stopped accepting connections; closed " + idle + " idle keep-alive connections");
			return requestsEnded;
		}
		return CompletableFuture.allOf(requestsEnded, startBootGracefulShutdown());
	}

	private CompletableFuture<Void> startBootGracefulShutdown() {
		CompletableFuture<Void> done = new CompletableFuture<>();
		if (this.context.containsBean(BOOT_GRACEFUL_SHUTDOWN_BEAN)) {
			SmartLifecycle graceful = this.context.getBean(BOOT_GRACEFUL_SHUTDOWN_BEAN, SmartLifecycle.class);
			if (graceful.isRunning()) {
				// Stopping it here also marks it stopped, so its own phase does not drain again.
				graceful.stop(() -> done.complete(null));
				return done;
			}
		}
		done.complete(null);
		return done;
	}

	@Override
	public List<InFlight> inFlight() {
		InFlightRequests requests = this.requests.getIfAvailable();
		return (requests != null) ? requests.inFlight() : List.of();
	}

	@Override
	public long inFlightCount() {
		InFlightRequests requests = this.requests.getIfAvailable();
		return (requests != null) ? requests.activeCount() : 0;
	}

	@Override
	public long finishedCount() {
		InFlightRequests requests = this.requests.getIfAvailable();
		// A reactive server is drained, but its requests are not counted.
		return (requests != null) ? requests.finishedCount() : -1;
	}

	@Override
	public void abandon() {
		InFlightRequests requests = this.requests.getIfAvailable();
		if (requests != null) {
			requests.completeAsyncRequests();
		}
	}

	private WebServer webServer() {
		return (this.context instanceof WebServerApplicationContext webContext) ? webContext.getWebServer() : null;
	}

}
