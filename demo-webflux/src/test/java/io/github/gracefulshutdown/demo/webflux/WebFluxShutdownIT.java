package io.github.gracefulshutdown.demo.webflux;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * End to end: the WebFlux demo, on Reactor Netty and without the servlet API anywhere on
 * its classpath, runs as a separate JVM with the starter. It must start at all; then a
 * real SIGTERM while a slow request is in flight must let that request complete, stop
 * new connections while it drains, and end the process promptly with a completed
 * graceful shutdown.
 */
class WebFluxShutdownIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final long SLOW_MS = 2500;

	private static final long SIGTERM_AFTER_MS = 500;

	private static final Duration EXIT_BOUND = Duration.ofSeconds(15);

	private static final Pattern STARTING = Pattern.compile("WebFlux demo starting: servletApi=");

	private static final Pattern READY = Pattern.compile("WebFlux demo ready on port (\\d+)");

	private static final Pattern SLOW_STARTED = Pattern.compile("slow request started: ms=" + SLOW_MS);

	private static final Pattern SUMMARY = Pattern.compile("Graceful shutdown [A-Z_]+ in ");

	private static final Pattern COMPLETED = Pattern.compile("Graceful shutdown COMPLETED in ");

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

		try (AppProcess app = AppProcess.start(jar, List.of("--server.port=0"))) {
			String starting = app.awaitLine(STARTING, STARTUP_TIMEOUT);
			softly.assertThat(starting).as("the app's startup line").contains("servletApi=absent");

			// 2. It starts.
			String ready = app.awaitLine(READY, STARTUP_TIMEOUT);
			if (ready == null) {
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
			Matcher readyMatcher = READY.matcher(ready);
			readyMatcher.find();
			int port = Integer.parseInt(readyMatcher.group(1));

			HttpClient client = HttpClient.newBuilder()
				.version(HttpClient.Version.HTTP_1_1)
				.connectTimeout(Duration.ofSeconds(2))
				.build();
			HttpResponse<String> hello = client.send(get(port, "/hello", Duration.ofSeconds(10)),
					HttpResponse.BodyHandlers.ofString());
			softly.assertThat(hello.statusCode()).as("GET /hello before SIGTERM").isEqualTo(200);
			softly.assertThat(hello.body()).as("GET /hello before SIGTERM").isEqualTo("hello");

			// 3. SIGTERM while a slow request is in flight.
			long sentAt = System.nanoTime();
			CompletableFuture<Long> slowDoneAt = new CompletableFuture<>();
			CompletableFuture<HttpResponse<String>> slow = client
				.sendAsync(get(port, "/slow?ms=" + SLOW_MS, Duration.ofSeconds(20)), HttpResponse.BodyHandlers.ofString())
				.whenComplete((response, failure) -> slowDoneAt.complete(System.nanoTime()));
			if (app.awaitLine(SLOW_STARTED, Duration.ofSeconds(10)) == null) {
				softly.fail("The app did not log that /slow started (%s)", app.state());
				assertAll(softly, app.tail(60));
			}
			long wait = sentAt + TimeUnit.MILLISECONDS.toNanos(SIGTERM_AFTER_MS) - System.nanoTime();
			TimeUnit.NANOSECONDS.sleep(Math.max(0, wait));
			long sigtermAt = System.nanoTime();
			app.sigterm();

			// While /slow drains, a new connection must not be served.
			Probe probe = probeUntilRejected(port, slow);

			String slowOutcome;
			int slowStatus = -1;
			String slowBody = null;
			try {
				HttpResponse<String> response = slow.get(30, TimeUnit.SECONDS);
				slowStatus = response.statusCode();
				slowBody = response.body();
				slowOutcome = String.valueOf(slowStatus);
			}
			catch (Exception ex) {
				slowOutcome = ex.toString();
			}
			long slowDoneAfterSigterm = TimeUnit.NANOSECONDS.toMillis(slowDoneAt.getNow(sigtermAt) - sigtermAt);

			Duration exitTime = app.awaitExit(EXIT_BOUND);
			List<String> lines = app.lines();
			String summary = lines.stream()
				.filter((line) -> SUMMARY.matcher(line).find())
				.reduce((first, second) -> second)
				.orElse(null);
			System.out.printf(
					"E2E-METRIC webflux: exitAfterSigterm=%s, slowRequest=%s after %d ms (%d ms after SIGTERM),"
							+ " newConnectionWhileDraining=%s, summary=\"%s\", %s%n",
					(exitTime != null) ? exitTime.toMillis() + " ms" : "none within " + EXIT_BOUND, slowOutcome,
					TimeUnit.NANOSECONDS.toMillis(slowDoneAt.getNow(sentAt) - sentAt), slowDoneAfterSigterm, probe,
					(summary != null) ? summary.substring(summary.indexOf("Graceful shutdown")) : null, app.state());

			softly.assertThat(slowOutcome).as("status of GET /slow in flight at SIGTERM").isEqualTo("200");
			softly.assertThat(slowBody).as("body of GET /slow").isEqualTo("slow " + SLOW_MS + " ms done");
			softly.assertThat(slowDoneAfterSigterm).as("GET /slow ended after SIGTERM, so it was drained").isPositive();
			softly.assertThat(probe.rejected())
				.as("a new connection while /slow drains is refused or answered 503: " + probe)
				.isTrue();
			softly.assertThat(exitTime).as("the process exits within " + EXIT_BOUND + " of SIGTERM").isNotNull();
			softly.assertThat(lines).as("the log").anyMatch((line) -> COMPLETED.matcher(line).find());
			softly.assertThat(lines.stream().filter((line) -> STARTUP_ERROR.matcher(line).find()))
				.as("startup errors in the log")
				.isEmpty();
			assertAll(softly, app.tail(60));
		}
	}

	private static HttpRequest get(int port, String path, Duration timeout) {
		return HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).timeout(timeout).GET().build();
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

	/**
	 * Opens a new connection every 50 ms, each sending {@code GET /hello}, until one is
	 * refused or answered 503, or the slow request ends (after which a refusal would no
	 * longer show the drain). Connections that the server still took before it stopped
	 * accepting are counted.
	 */
	private static Probe probeUntilRejected(int port, CompletableFuture<?> slow) throws InterruptedException {
		long start = System.nanoTime();
		int served = 0;
		int failed = 0;
		while (!slow.isDone()) {
			String outcome = null;
			try (Socket socket = new Socket()) {
				socket.connect(new InetSocketAddress("localhost", port), 500);
				socket.setSoTimeout(1000);
				OutputStream out = socket.getOutputStream();
				out.write("GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
					.getBytes(StandardCharsets.US_ASCII));
				out.flush();
				String statusLine = statusLine(socket.getInputStream());
				if (statusLine.startsWith("HTTP/1.1 503")) {
					outcome = "503";
				}
				else {
					served++;
				}
			}
			catch (ConnectException ex) {
				outcome = "refused";
			}
			catch (IOException ex) {
				failed++;
			}
			if (outcome != null && !slow.isDone()) {
				return new Probe(outcome, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), served, failed);
			}
			Thread.sleep(50);
		}
		return new Probe(null, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), served, failed);
	}

	private static String statusLine(InputStream in) throws IOException {
		StringBuilder line = new StringBuilder();
		int c;
		while ((c = in.read()) != -1 && c != '\n') {
			line.append((char) c);
		}
		return line.toString().strip();
	}

	private static void assertAll(SoftAssertions softly, String context) {
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

	/**
	 * What the new connections opened while draining got.
	 * @param outcome {@code refused} or {@code 503}, or {@code null} if none was rejected
	 * while the slow request was in flight
	 * @param afterMs when the probing stopped, in ms after SIGTERM
	 * @param served how many were still served before that
	 * @param failed how many failed otherwise (reset, timeout)
	 */
	private record Probe(String outcome, long afterMs, int served, int failed) {

		boolean rejected() {
			return this.outcome != null;
		}

		@Override
		public String toString() {
			return ((this.outcome != null) ? this.outcome + " " + this.afterMs + " ms after SIGTERM"
					: "never rejected in " + this.afterMs + " ms") + " (" + this.served + " served, " + this.failed
					+ " failed before)";
		}

	}

}
