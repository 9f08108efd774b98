package io.github.gracefulshutdown.demo.webflux;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * End to end on reactive Tomcat: the same WebFlux demo, started from the test classpath
 * (which adds Spring Boot's Tomcat starter, in test scope, so the jar stays free of the
 * servlet API) with Reactor Netty's jars left out, gets the same
 * SIGTERM and the same checks as on Netty ({@link DrainScenario}). Here the drain is ours,
 * as for servlet Tomcat, so Spring Boot's own Tomcat drain must not run at all.
 */
class WebFluxTomcatShutdownIT {

	@Test
	@Timeout(value = 90, unit = TimeUnit.SECONDS)
	void reactiveTomcatDrainsOnSigterm() throws Exception {
		SoftAssertions softly = new SoftAssertions();
		int managementPort = DrainScenario.freePort();
		// Without Reactor Netty, Spring Boot picks Tomcat, and Spring's WebSocket support
		// its Tomcat upgrade strategy.
		try (AppProcess app = AppProcess.startFromTestClasspath(WebFluxDemoApplication.class,
				(jar) -> jar.startsWith("reactor-netty") || jar.startsWith("spring-boot-reactor-netty")
						|| jar.startsWith("spring-boot-starter-reactor-netty"),
				List.of("--server.port=0",
						"--management.server.port=" + managementPort, "--graceful-shutdown.progress-log-interval=250ms"))) {
			DrainScenario.run("webflux-tomcat", app, managementPort, 5, "TomcatWebServer", 0, softly);
			softly.assertThat(app.awaitLine(Pattern.compile("servletApi=present"), Duration.ZERO))
				.as("Tomcat brings the servlet API")
				.isNotNull();
			WebFluxShutdownIT.assertAll(softly, app.tail(80));
		}
	}

}
