package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.web.RawHttp.Outcome;
import io.github.gracefulshutdown.web.RawHttp.Outcome.Kind;
import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * End to end over real HTTP: with a drain delay, after a real SIGTERM the demo app says
 * it is not ready (readiness 503) but still serves new connections, each response with
 * {@code Connection: close}, for the whole delay; only then does it drain and refuse new
 * connections, while a request that spans the delay still completes.
 */
class DrainDelayIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final Duration DRAIN_DELAY = Duration.ofSeconds(2);

	// Started just before SIGTERM, so it is still in flight when the drain begins.
	private static final long SPANNING_MS = 4000;

	private static final String READINESS = "/actuator/health/readiness";

	@TempDir
	Path tempDir;

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void sigtermKeepsServingDuringTheDrainDelayWhileNotReadyThenRefusesNewConnections() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		ExecutorService clients = Executors.newSingleThreadExecutor((task) -> {
			Thread thread = new Thread(task, "spanning-client");
			thread.setDaemon(true);
			return thread;
		});
		try (DemoProcess app = DemoProcess.start("drain-delay",
				List.of("--demo.journal=" + journal, "--demo.light.unit=500ms", "--demo.heavy.unit=1s",
						"--graceful-shutdown.drain-delay=" + DRAIN_DELAY.toSeconds() + "s",
						"--spring.lifecycle.timeout-per-shutdown-phase=10s", "--server.port=0",
						E2eFixture.WEB_DRAIN_DEBUG))) {
			int port = app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine("Started 2 background jobs: [", STARTUP_TIMEOUT);

			// Before SIGTERM: ready, and serving with keep-alive (this also warms both paths up).
			Outcome readyBefore = get(port, READINESS);
			Outcome helloBefore = get(port, "/hello");
			assertThat(readyBefore.isStatus(200)).as("readiness before SIGTERM: " + readyBefore).isTrue();
			assertThat(readyBefore.response().body()).contains("UP");
			assertThat(helloBefore.isStatus(200)).as("/hello before SIGTERM: " + helloBefore).isTrue();
			assertThat(helloBefore.closesConnection()).as("/hello before SIGTERM: " + helloBefore).isFalse();
			assertThat(get(port, "/slow?ms=1").isStatus(200)).as("warming up /slow").isTrue();

			Future<Outcome> spanning = clients.submit(() -> Outcome.of(() -> {
				try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(20))) {
					return connection.get("/slow?ms=" + SPANNING_MS);
				}
			}));
			app.awaitJournal(journal, "the spanning slow request in flight",
					(read) -> E2eFixture.unfinished(read, "slow") == 1, Duration.ofSeconds(10));

			long sigtermAt = app.sigterm();
			long sigtermNanos = System.nanoTime();

			// During the delay: not ready, yet serving new connections, each told to close.
			String delayLine = app.awaitLine("Shutdown requested: still serving for drain-delay",
					Duration.ofSeconds(10));
			long delaySeenMillis = millisSince(sigtermNanos);
			Outcome readyDuring = get(port, READINESS);
			Outcome helloDuring = get(port, "/hello");
			Outcome jsonDuring = get(port, "/slow?ms=1");
			long delayChecksDoneMillis = millisSince(sigtermNanos);
			boolean drainingBeforeChecksEnded = app.lines().stream().anyMatch((line) -> line.contains("Draining "));

			// After the delay: draining, new connections refused.
			String draining = app.awaitLine("Draining ", Duration.ofSeconds(10));
			long drainingSeenMillis = millisSince(sigtermNanos);
			app.awaitLine(E2eFixture.STOPPED_ACCEPTING, Duration.ofSeconds(5));
			Outcome newConnection = get(port, "/hello");
			boolean aliveAtNewConnection = app.isAlive();

			Outcome spanningOutcome = spanning.get(30, TimeUnit.SECONDS);
			Duration exitTime = app.awaitExit(Duration.ofSeconds(20));
			JournalFile units = JournalFile.read(journal);
			List<String> lines = app.lines();
			String context = "\n" + units + "\n" + app.tail(60);
			String summary = E2eFixture.summary(lines, context);

			System.out.printf("E2E-METRIC drain-delay: exitAfterSigterm=%d ms, delayLineSeenAfter=%d ms,"
					+ " readinessDuringDelay=%s, helloDuringDelay=%s (Connection: %s), jsonDuringDelay=%s (Connection: %s),"
					+ " delayChecksDoneAfter=%d ms,"
					+ " drainingSeenAfter=%d ms, newConnectionAfterDraining=%s in %d ms, spanningRequest=%s (Connection: %s),"
					+ " exitValue=%d%n",
					exitTime.toMillis(), delaySeenMillis, readyDuring.brief(), helloDuring.brief(),
					helloDuring.connectionHeader(), jsonDuring.brief(), jsonDuring.connectionHeader(),
					delayChecksDoneMillis, drainingSeenMillis, newConnection.brief(),
					newConnection.elapsed().toMillis(), spanningOutcome.brief(), spanningOutcome.connectionHeader(),
					app.exitValue());

			// Every check, so that one failure does not hide the others.
			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(delayLine).as("drain-delay line").contains("drain-delay 2.00 s");
			softly.assertThat(drainingBeforeChecksEnded)
				.as("the checks during the delay ended before draining began (they took until " + delayChecksDoneMillis
						+ " ms after SIGTERM)")
				.isFalse();
			softly.assertThat(readyDuring.isStatus(503)).as("readiness during the drain delay: " + readyDuring)
				.isTrue();
			softly.assertThat(readyDuring.body()).as("readiness during the drain delay")
				.contains("OUT_OF_SERVICE");
			softly.assertThat(helloDuring.isStatus(200))
				.as("/hello on a new connection during the drain delay: " + helloDuring)
				.isTrue();
			softly.assertThat(helloDuring.body()).as("/hello during the drain delay").isEqualTo("hello");
			softly.assertThat(helloDuring.closesConnection())
				.as("/hello during the drain delay carries Connection: close: " + helloDuring)
				.isTrue();
			softly.assertThat(jsonDuring.isStatus(200))
				.as("/slow?ms=1 on a new connection during the drain delay: " + jsonDuring)
				.isTrue();
			softly.assertThat(jsonDuring.closesConnection())
				.as("/slow?ms=1 during the drain delay carries Connection: close: " + jsonDuring)
				.isTrue();

			softly.assertThat(drainingSeenMillis).as("draining began only after the drain delay")
				.isGreaterThanOrEqualTo(DRAIN_DELAY.toMillis());
			softly.assertThat(draining).as("draining line").contains("within 10.00 s");
			softly.assertThat(aliveAtNewConnection)
				.as("the app was still running at the new-connection probe")
				.isTrue();
			softly.assertThat(newConnection.kind()).as("a new connection while draining: " + newConnection)
				.isIn(EnumSet.of(Kind.REFUSED, Kind.EOF, Kind.RESET));
			softly.assertThat(newConnection.elapsed()).as("refusing a new connection: " + newConnection)
				.isLessThan(Duration.ofSeconds(1));

			softly.assertThat(spanningOutcome.isStatus(200))
				.as("the request spanning the delay: " + spanningOutcome)
				.isTrue();
			softly.assertThat(spanningOutcome.body()).as("the request spanning the delay")
				.isEqualTo("{\"slept\":" + SPANNING_MS + "}");
			softly.assertThat(spanningOutcome.closesConnection())
				.as("the request spanning the delay carries Connection: close: " + spanningOutcome)
				.isTrue();

			softly.assertThat(summary).as("summary")
				.contains("Graceful shutdown COMPLETED")
				.contains("0 stragglers");
			softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
			softly.assertThat(units.spans("slow").stream().anyMatch((span) -> span.inFlightAt(sigtermAt)))
				.as("the spanning request was in flight at SIGTERM")
				.isTrue();
			softly.assertThat(exitTime).as("exit time after SIGTERM")
				.isGreaterThanOrEqualTo(DRAIN_DELAY)
				.isLessThan(Duration.ofSeconds(12));
			E2eFixture.assertAll(softly, context);
		}
		finally {
			clients.shutdownNow();
		}
	}

	/**
	 * One {@code GET} on a new connection, with short timeouts: a refused connection, a
	 * closed or reset one, or a hang all come back as an {@link Outcome}.
	 */
	private static Outcome get(int port, String path) {
		return Outcome.of(() -> {
			try (RawHttp connection = RawHttp.connect(port, Duration.ofSeconds(1), Duration.ofSeconds(3))) {
				return connection.get(path);
			}
		});
	}

	private static long millisSince(long startNanos) {
		return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
	}

}
