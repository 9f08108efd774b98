package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.github.gracefulshutdown.web.RawHttp.Outcome;
import io.github.gracefulshutdown.web.RawHttp.Outcome.Kind;
import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * End to end over real HTTP: the demo app as a separate JVM serves 20 slow requests and
 * runs a long ledger unit when it gets a real SIGTERM. Once it drains, a new connection
 * is refused and a request on an idle keep-alive connection is not served, while every
 * request in flight completes with 200 and {@code Connection: close}; requests and jobs
 * drain in parallel, inside the one deadline.
 */
class WebDrainIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final int SLOW_REQUESTS = 20;

	private static final long SLOW_MS = 2500;

	private static final Pattern REQUESTS_DRAINED = Pattern.compile("(\\d+) requests drained");

	private static final Pattern IDLE_CLOSED = Pattern.compile("closed (\\d+) idle keep-alive connection");

	/**
	 * Logged at info by Spring Boot's own Tomcat drain
	 * ({@code org.springframework.boot.tomcat.GracefulShutdown}, started by
	 * {@code WebServerGracefulShutdownLifecycle} when {@code server.shutdown=graceful},
	 * Boot's default). The starter makes it {@code IMMEDIATE}, so that it never runs a
	 * second time after the coordinator's drain.
	 */
	private static final String BOOT_DRAIN = "Commencing graceful shutdown. Waiting for active requests to complete";

	@TempDir
	Path tempDir;

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void sigtermDrainsRequestsInFlightRefusesNewOnesAndExitsPromptly() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		AtomicInteger clientThreads = new AtomicInteger();
		ExecutorService clients = Executors.newFixedThreadPool(SLOW_REQUESTS, (task) -> {
			Thread thread = new Thread(task, "slow-client-" + clientThreads.incrementAndGet());
			thread.setDaemon(true);
			return thread;
		});
		try (DemoProcess app = DemoProcess.start("web-drain",
				List.of("--demo.journal=" + journal, "--demo.light.unit=500ms", "--demo.heavy.unit=2500ms",
						"--spring.lifecycle.timeout-per-shutdown-phase=15s", "--server.port=0",
						E2eFixture.WEB_DRAIN_DEBUG))) {
			int port = app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine("Started 2 background jobs: [", STARTUP_TIMEOUT);

			try (RawHttp idle = RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(5))) {
				// (a) One quick request on a keep-alive connection, which then stays idle.
				RawHttp.Response hello = idle.get("/hello");
				assertThat(hello.status()).as("first /hello on the keep-alive connection: " + hello).isEqualTo(200);
				assertThat(hello.body()).isEqualTo("hello");
				assertThat(hello.closesConnection()).as("the keep-alive connection is kept: " + hello).isFalse();
				// Warms up the JSON path of /slow on its own connection (journals one complete unit).
				try (RawHttp warmUp = RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(10))) {
					assertThat(warmUp.get("/slow?ms=1").status()).isEqualTo(200);
				}

				// (b) A fresh ledger-rebuild unit, then 20 slow requests alongside it.
				int rebuildsBefore = JournalFile.read(journal).spans("ledger-rebuild").size();
				app.awaitJournal(journal, "a new ledger-rebuild unit",
						(read) -> read.spans("ledger-rebuild").size() > rebuildsBefore, Duration.ofSeconds(10));
				List<Future<Outcome>> slow = new ArrayList<>();
				for (int i = 0; i < SLOW_REQUESTS; i++) {
					slow.add(clients.submit(() -> Outcome.of(() -> {
						try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(20))) {
							return connection.get("/slow?ms=" + SLOW_MS);
						}
					})));
				}
				app.awaitJournal(journal, SLOW_REQUESTS + " slow requests and a ledger-rebuild unit in flight",
						(read) -> E2eFixture.unfinished(read, "slow") == SLOW_REQUESTS
								&& read.hasUnfinished("ledger-rebuild"),
						Duration.ofSeconds(10));

				long sigtermAt = app.sigterm();

				// (c) Once Tomcat is paused: no new connection, no request on the idle one.
				String draining = app.awaitLine("Draining ", Duration.ofSeconds(10));
				String stoppedAccepting = app.awaitLine(E2eFixture.STOPPED_ACCEPTING, Duration.ofSeconds(5));
				Outcome newConnection = Outcome.of(() -> {
					try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(1), Duration.ofSeconds(1))) {
						return connection.get("/hello");
					}
				});
				boolean aliveAtNewConnection = app.isAlive();
				Outcome keepAlive = Outcome.of(() -> idle.get("/hello"));
				boolean aliveAtKeepAlive = app.isAlive();

				// (d) Every request in flight completes.
				List<Outcome> slowOutcomes = new ArrayList<>();
				for (Future<Outcome> future : slow) {
					slowOutcomes.add(future.get(30, TimeUnit.SECONDS));
				}

				// (e) The process exits, promptly, having finished everything it began.
				Duration exitTime = app.awaitExit(Duration.ofSeconds(20));
				JournalFile units = JournalFile.read(journal);
				List<String> lines = app.lines();
				String context = "\n" + units + "\n" + app.tail(60);

				String summary = E2eFixture.summary(lines, context);
				Matcher drainedMatcher = REQUESTS_DRAINED.matcher(summary);
				int requestsDrained = drainedMatcher.find() ? Integer.parseInt(drainedMatcher.group(1)) : -1;
				long slowOk = slowOutcomes.stream()
					.filter((outcome) -> outcome.isStatus(200) && outcome.closesConnection())
					.count();
				long requestsRemaining = units.spans("slow")
					.stream()
					.filter((span) -> span.inFlightAt(sigtermAt) && span.ended())
					.mapToLong((span) -> span.end() - sigtermAt)
					.max()
					.orElse(-1);
				long rebuildRemaining = units.spans("ledger-rebuild")
					.stream()
					.filter((span) -> span.inFlightAt(sigtermAt) && span.ended())
					.mapToLong((span) -> span.end() - sigtermAt)
					.max()
					.orElse(-1);
				Matcher closedMatcher = IDLE_CLOSED.matcher(stoppedAccepting);
				String idleClosed = closedMatcher.find() ? closedMatcher.group(1) : "?";
				System.out.printf("E2E-METRIC web-drain: exitAfterSigterm=%d ms, requestsRemainingAtSigterm=%d ms,"
						+ " rebuildUnitRemainingAtSigterm=%d ms, newConnection=%s in %d ms, idleKeepAliveRequest=%s in %d ms,"
						+ " idleConnectionsClosedByServer=%s, slowResponses=%d/%d x (200 + Connection: close),"
						+ " requestsDrained=%d, exitValue=%d%n",
						exitTime.toMillis(), requestsRemaining, rebuildRemaining, newConnection.brief(),
						newConnection.elapsed().toMillis(), keepAlive.brief(), keepAlive.elapsed().toMillis(), idleClosed,
						slowOk, SLOW_REQUESTS, requestsDrained, app.exitValue());

				// Every check, so that one failure does not hide the others.
				SoftAssertions softly = new SoftAssertions();
				softly.assertThat(draining).as("draining line").contains("within 15.00 s");
				softly.assertThat(aliveAtNewConnection).as("the app was still running at the new-connection probe")
					.isTrue();
				softly.assertThat(newConnection.kind()).as("a new connection while draining: " + newConnection)
					.isIn(EnumSet.of(Kind.REFUSED, Kind.EOF, Kind.RESET));
				softly.assertThat(newConnection.elapsed()).as("refusing a new connection: " + newConnection)
					.isLessThan(Duration.ofSeconds(1));
				softly.assertThat(aliveAtKeepAlive).as("the app was still running at the keep-alive probe").isTrue();
				softly
					.assertThat(keepAlive.kind() == Kind.EOF || keepAlive.kind() == Kind.RESET || keepAlive.isStatus(503))
					.as("a request on the idle keep-alive connection while draining gets 503 or a closed connection,"
							+ " never a hang nor a normal response: " + keepAlive)
					.isTrue();

				for (int i = 0; i < slowOutcomes.size(); i++) {
					Outcome outcome = slowOutcomes.get(i);
					softly.assertThat(outcome.isStatus(200)).as("slow request " + i + ": " + outcome).isTrue();
					softly.assertThat(outcome.body()).as("slow request " + i + ": " + outcome)
						.isEqualTo("{\"slept\":" + SLOW_MS + "}");
					softly.assertThat(outcome.closesConnection())
						.as("slow request " + i + " carries Connection: close: " + outcome)
						.isTrue();
				}

				softly.assertThat(exitTime)
					.as("exit time after SIGTERM, with requests and a job unit of 2.5 s each in flight")
					.isLessThan(Duration.ofMillis(4500));
				softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
				softly.assertThat(units.spans("ledger-rebuild").stream().anyMatch((span) -> span.inFlightAt(sigtermAt)))
					.as("a ledger-rebuild unit was in flight at SIGTERM")
					.isTrue();
				softly.assertThat(summary).as("summary").contains("Graceful shutdown COMPLETED").contains("0 stragglers");
				softly.assertThat(requestsDrained).as("requests drained in: " + summary)
					.isGreaterThanOrEqualTo(SLOW_REQUESTS);
				softly.assertThat(lines)
					.as("lines of Spring Boot's own Tomcat drain, which must not run after ours")
					.filteredOn((line) -> line.contains(BOOT_DRAIN))
					.isEmpty();
				E2eFixture.assertAll(softly, context);
			}
		}
		finally {
			clients.shutdownNow();
		}
	}

}
