package io.github.gracefulshutdown.web;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.core.Units;
import org.jspecify.annotations.Nullable;

import org.springframework.boot.web.server.WebServer;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ApplicationContext;
import org.springframework.context.SmartLifecycle;

/**
 * A reactive web server (WebFlux on Reactor Netty, Tomcat, Jetty) as a participant: its
 * drain is Spring Boot's own graceful shutdown, started here, inside the one deadline,
 * which marks it stopped so that its later phase does not drain a second time.
 * <p>
 * Reactive requests are not counted: the drain is awaited, but the log and the summary
 * claim no request figure, and a request still in flight at the deadline is not named.
 */
public final class WebServerDrain implements ShutdownParticipant {

	private static final String BOOT_GRACEFUL_SHUTDOWN_BEAN = "webServerGracefulShutdown";

	private final ApplicationContext context;

	/**
	 * Creates a drain for the context's own web server.
	 * @param context the application context that runs the server
	 */
	public WebServerDrain(ApplicationContext context) {
		this.context = context;
	}

	@Override
	public String name() {
		return Units.REQUEST;
	}

	@Override
	public CompletionStage<?> drain() {
		return startBootGracefulShutdown(this.context);
	}

	@Override
	public List<InFlight> inFlight() {
		return List.of();
	}

	/**
	 * Starts Spring Boot's own graceful shutdown of the context's web server, if it has
	 * one that is running.
	 * @return a stage that completes when that drain has ended
	 */
	static CompletableFuture<Void> startBootGracefulShutdown(ApplicationContext context) {
		CompletableFuture<Void> done = new CompletableFuture<>();
		if (context.containsBean(BOOT_GRACEFUL_SHUTDOWN_BEAN)) {
			SmartLifecycle graceful = context.getBean(BOOT_GRACEFUL_SHUTDOWN_BEAN, SmartLifecycle.class);
			if (graceful.isRunning()) {
				// Stopping it here also marks it stopped, so its own phase does not drain again.
				graceful.stop(() -> done.complete(null));
				return done;
			}
		}
		done.complete(null);
		return done;
	}

	static @Nullable WebServer webServer(ApplicationContext context) {
		return (context instanceof WebServerApplicationContext webContext) ? webContext.getWebServer() : null;
	}

}
