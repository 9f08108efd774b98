package io.github.gracefulshutdown.demo.webflux;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import io.github.gracefulshutdown.web.RawHttp.Outcome;
import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * End to end: the WebFlux demo, on Reactor Netty and without the servlet API anywhere on
 * its classpath, runs as a separate JVM with the starter. It must start at all; then a
 * real SIGTERM must drain it as {@link DrainScenario} checks (bounded requests complete
 * with {@code Connection: close}, streams and a WebSocket end as draining starts, new
 * connections are refused, {@code COMPLETED} with every request counted); and a request
 * past the deadline must be named, cut and answered 503, with {@code TIMED_OUT}.
 */
class WebFluxShutdownIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final int SLOW_REQUESTS = 10;

	private static final Pattern STARTING = Pattern.compile("WebFlux demo starting: servletApi=");

	private static final Pattern READY = Pattern.compile("WebFlux demo ready on port (\\d+)");

	private static final Pattern STARTUP_ERROR = Pattern
		.compile("NoClassDefFoundError|ClassNotFoundException|APPLICATION FAILED TO START");

	@Test
	@Timeout(value = 90, unit = TimeUnit.SECONDS)
	void webFluxAppWithoutServletApiStartsAndDrainsOnSigterm() throws Exception {
		Path jar = AppProcess.jar();
		SoftAssertions softly = new SoftAssertions();

		// 1. No servlet API in the app's runtime classpath.
		List<String> libs = bootInfLibs(jar);
		softly.assertThat(libs).as("BOOT-INF/lib of " + jar).anyMatch((lib) -> lib.startsWith("reactor-netty"));
		softly.assertThat(libs.stream().filter((lib) -> lib.contains("servlet") || lib.startsWith("tomcat-embed")))
			.as("servlet API or Tomcat jars in BOOT-INF/lib of " + jar)
			.isEmpty();

		int managementPort = DrainScenario.freePort();
		try (AppProcess app = AppProcess.start(jar, List.of("--server.port=0", "--management.server.port=" + managementPort,
				"--graceful-shutdown.progress-log-interval=250ms"))) {
			String starting = app.awaitLine(STARTING, STARTUP_TIMEOUT);
			softly.assertThat(starting).as("the app's startup line").contains("servletApi=absent");

			// 2. It starts.
			if (app.awaitLine(READY, STARTUP_TIMEOUT) == null) {
				reportStartupFailure(app, softly);
			}

			// 3. SIGTERM with bounded requests, streams and a WebSocket in flight.
			DrainScenario.run("webflux-netty", app, managementPort, SLOW_REQUESTS, "NettyWebServer", 1, softly);
			softly.assertThat(app.lines().stream().filter((line) -> STARTUP_ERROR.matcher(line).find()))
				.as("startup errors in the log")
				.isEmpty();
			assertAll(softly, app.tail(80));
		}
	}

	@Test
	@Timeout(value = 60, unit = TimeUnit.SECONDS)
	void aRequestPastTheDeadlineIsNamedCutAndAnswered503() throws Exception {
		SoftAssertions softly = new SoftAssertions();
		try (AppProcess app = AppProcess.start(AppProcess.jar(),
				List.of("--server.port=0", "--spring.lifecycle.timeout-per-shutdown-phase=2s"))) {
			String ready = app.awaitLine(READY, STARTUP_TIMEOUT);
			if (ready == null) {
				reportStartupFailure(app, softly);
			}
			Matcher readyMatcher = READY.matcher(ready);
			readyMatcher.find();
			int port = Integer.parseInt(readyMatcher.group(1));
			CompletableFuture<Outcome> straggler = CompletableFuture.supplyAsync(() -> Outcome.of(() -> {
				try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(20))) {
					return connection.get("/slow?ms=30000");
				}
			}));
			softly.assertThat(app.awaitLine(Pattern.compile("slow request started: ms=30000"), Duration.ofSeconds(10)))
				.as("the long request started")
				.isNotNull();
			app.sigterm();
			Outcome outcome = straggler.get(20, TimeUnit.SECONDS);
			Duration exitTime = app.awaitExit(Duration.ofSeconds(15));
			List<String> lines = app.lines();
			String summary = lines.stream().filter((line) -> line.contains("Graceful shutdown ")).reduce((a, b) -> b)
				.orElse("");
			System.out.printf("E2E-METRIC webflux-straggler: exitAfterSigterm=%s, straggler=%s (Connection: %s), summary=\"%s\"%n",
					(exitTime != null) ? exitTime.toMillis() + " ms" : "none", outcome.brief(), outcome.connectionHeader(),
					summary.substring(Math.max(0, summary.indexOf("Graceful shutdown"))));
			softly.assertThat(outcome.isStatus(503)).as("the straggler's answer: " + outcome).isTrue();
			softly.assertThat(outcome.closesConnection()).as("Connection: close on " + outcome).isTrue();
			softly.assertThat(lines).as("the deadline report")
				.anyMatch((line) -> line.contains("Shutdown deadline of 2.00 s passed with 1 straggler"))
				.anyMatch((line) -> line.startsWith("  GET /slow, running for "));
			softly.assertThat(summary).contains("Graceful shutdown TIMED_OUT").contains("1 straggler (GET /slow)");
			softly.assertThat(lines).as("no straggler may go unnamed")
				.noneMatch((line) -> line.contains("0 stragglers"));
			softly.assertThat(exitTime).as("exit after SIGTERM with a 2 s deadline").isNotNull()
				.isLessThan(Duration.ofSeconds(6));
			assertAll(softly, app.tail(60));
		}
	}

	private static void reportStartupFailure(AppProcess app, SoftAssertions softly) throws InterruptedException {
		app.awaitDeath(Duration.ofSeconds(5));
		// The deepest causes of the failure, which the tail may have cut off.
		List<String> causes = app.lines()
			.stream()
			.filter((line) -> line.startsWith("Caused by: "))
			.map((line) -> (line.length() > 240) ? line.substring(0, 240) + "..." : line)
			.collect(Collectors.toList());
		List<String> errors = causes.subList(Math.max(0, causes.size() - 3), causes.size());
		System.out.printf("E2E-METRIC webflux: startup FAILED (%s), errors=%s%n", app.state(), errors);
		softly.fail("The WebFlux app did not become ready within %d s (%s). Its failure, deepest causes last:%n  %s",
				STARTUP_TIMEOUT.toSeconds(), app.state(), errors.isEmpty() ? "(none)" : String.join("\n  ", errors));
		assertAll(softly, app.tail(80));
	}

	private static List<String> bootInfLibs(Path jar) throws IOException {
		try (JarFile file = new JarFile(jar.toFile())) {
			return file.stream()
				.map((entry) -> entry.getName())
				.filter((name) -> name.startsWith("BOOT-INF/lib/") && name.endsWith(".jar"))
				.map((name) -> name.substring("BOOT-INF/lib/".length()))
				.collect(Collectors.toList());
		}
	}

	static void assertAll(SoftAssertions softly, String context) {
		List<AssertionError> errors = softly.assertionErrorsCollected();
		if (errors.isEmpty()) {
			return;
		}
		StringBuilder message = new StringBuilder().append(errors.size()).append(" check(s) failed:");
		for (int i = 0; i < errors.size(); i++) {
			message.append('\n').append(i + 1).append(") ").append(errors.get(i).getMessage().strip());
		}
		AssertionError failure = new AssertionError(message.append(context).toString());
		errors.forEach(failure::addSuppressed);
		throw failure;
	}

}
