package io.github.gracefulshutdown.web;

import java.util.concurrent.CompletableFuture;

import org.jspecify.annotations.Nullable;

import org.springframework.boot.web.server.WebServer;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ApplicationContext;
import org.springframework.context.SmartLifecycle;

/**
 * Spring Boot's own graceful shutdown of a web server other than Tomcat (Reactor Netty,
 * Jetty), started by the request counters inside the one deadline: it closes the
 * server socket and the idle connections and waits for the busy ones. Starting it here
 * marks it stopped, so that its later phase does not drain a second time.
 */
final class WebServerDrain {

	private static final String BOOT_GRACEFUL_SHUTDOWN_BEAN = "webServerGracefulShutdown";

	private WebServerDrain() {
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
