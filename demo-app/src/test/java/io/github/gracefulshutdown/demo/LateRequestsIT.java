package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.web.RawHttp.Outcome;
import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end over real HTTP: requests that reach the app on connections it already had
 * when a real SIGTERM began the drain. None of them is dropped without an answer:
 * <ul>
 * <li>A streamed response sent its headers, keeping the connection alive, before the
 * drain; the client's next request on that connection is served, with
 * {@code Connection: close}. (A paused Tomcat, as in Spring Boot's own drain, closes
 * the connection after the stream instead, under the client's next request.)</li>
 * <li>A request whose first line was on the wire before the drain, and whose rest comes
 * while other requests still drain, is served too.</li>
 * <li>One whose rest comes once every request has drained, while a job unit is still
 * finishing, is answered {@code 503} with {@code Connection: close}, and never run.</li>
 * </ul>
 */
class LateRequestsIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final long STREAM_MS = 1500;

	private static final long SLOW_MS = 3500;

	@TempDir
	Path tempDir;

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void requestsOnOpenConnectionsAreServedWhileRequestsDrainAndRefusedWith503OnceTheyHaveDrained()
			throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		ExecutorService clients = Executors.newFixedThreadPool(2, (task) -> {
			Thread thread = new Thread(task, "late-client");
			thread.setDaemon(true);
			return thread;
		});
		try (DemoProcess app = DemoProcess.start("late-requests",
				List.of("--demo.journal=" + journal, "--demo.light.unit=500ms", "--demo.heavy.unit=7s",
						"--spring.lifecycle.timeout-per-shutdown-phase=15s", "--server.port=0",
						"--graceful-shutdown.progress-log-interval=100ms", E2eFixture.WEB_DRAIN_DEBUG))) {
			int port = app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine("Started 2 background jobs: [", STARTUP_TIMEOUT);
			// Warm up the paths, so that the requests below are not slowed by class loading.
			E2eFixture.get(port, "/hello");
			E2eFixture.get(port, "/slow?ms=1");
			E2eFixture.get(port, "/stream?ms=1");
			app.awaitJournal(journal, "a ledger-rebuild unit in flight",
					(read) -> read.hasUnfinished("ledger-rebuild"), Duration.ofSeconds(10));

			try (RawHttp streamed = connect(port); RawHttp whileDraining = connect(port);
					RawHttp onceDrained = connect(port)) {
				Future<Outcome> slow = clients.submit(() -> E2eFixture.get(port, "/slow?ms=" + SLOW_MS));
				Future<Outcome> stream = clients.submit(() -> Outcome.of(() -> streamed.get("/stream?ms=" + STREAM_MS)));
				app.awaitJournal(journal, "the slow request and the stream in flight",
						(read) -> E2eFixture.unfinished(read, "slow") == 1 && E2eFixture.unfinished(read, "stream") == 1,
						Duration.ofSeconds(10));
				whileDraining.startGet("/hello");
				onceDrained.startGet("/hello");

				app.sigterm();
				app.awaitLine(E2eFixture.STOPPED_ACCEPTING, Duration.ofSeconds(10));
				Outcome onTheWire = Outcome.of(whileDraining::finishGet);
				Outcome streamOutcome = stream.get(30, TimeUnit.SECONDS);
				Outcome afterStream = Outcome.of(() -> streamed.get("/hello"));
				boolean slowInFlight = !slow.isDone();

				Outcome slowOutcome = slow.get(30, TimeUnit.SECONDS);
				// The request counter has reached zero once a progress line says so.
				app.awaitLine("draining: 0 requests", Duration.ofSeconds(10));
				boolean aliveWhenRefused = app.isAlive();
				Outcome refused = Outcome.of(onceDrained::finishGet);

				Duration exitTime = app.awaitExit(Duration.ofSeconds(20));
				JournalFile units = JournalFile.read(journal);
				String context = "\n" + units + "\n" + app.tail(60);
				String summary = E2eFixture.summary(app.lines(), context);
				System.out.printf("E2E-METRIC late-requests: stream=%s (Connection: %s), afterStream=%s (Connection: %s),"
						+ " onTheWire=%s (Connection: %s), onceDrained=%s (Connection: %s), slow=%s,"
						+ " exitAfterSigterm=%d ms%n", streamOutcome.brief(), streamOutcome.connectionHeader(),
						afterStream.brief(), afterStream.connectionHeader(), onTheWire.brief(),
						onTheWire.connectionHeader(), refused.brief(), refused.connectionHeader(), slowOutcome.brief(),
						exitTime.toMillis());

				SoftAssertions softly = new SoftAssertions();
				softly.assertThat(streamOutcome.isStatus(200)).as("the stream: " + streamOutcome).isTrue();
				softly.assertThat(streamOutcome.body()).as("the stream's body").isEqualTo("first part\nsecond part\n");
				softly.assertThat(streamOutcome.closesConnection())
					.as("the stream kept its connection alive (its headers went out before SIGTERM): " + streamOutcome)
					.isFalse();
				softly.assertThat(slowInFlight).as("the slow request was still in flight after the stream").isTrue();
				softly.assertThat(afterStream.isStatus(200))
					.as("the next request on the stream's connection, while requests drain: " + afterStream)
					.isTrue();
				softly.assertThat(afterStream.closesConnection()).as("it carries Connection: close: " + afterStream)
					.isTrue();
				softly.assertThat(onTheWire.isStatus(200)).as("a request on the wire, finished while requests drain: "
						+ onTheWire).isTrue();
				softly.assertThat(onTheWire.body()).as("its body").isEqualTo("hello");
				softly.assertThat(onTheWire.closesConnection()).as("it carries Connection: close: " + onTheWire)
					.isTrue();
				softly.assertThat(slowOutcome.isStatus(200)).as("the slow request: " + slowOutcome).isTrue();
				softly.assertThat(aliveWhenRefused).as("the app was still running, finishing its job unit").isTrue();
				softly.assertThat(refused.isStatus(503)).as("a request finished once requests drained: " + refused)
					.isTrue();
				softly.assertThat(refused.closesConnection()).as("it carries Connection: close: " + refused).isTrue();
				softly.assertThat(app.lines())
					.as("the log says, once, that late requests are answered 503")
					.filteredOn((line) -> line.contains("Requests have drained; answering requests that still arrive with 503"))
					.hasSize(1);
				softly.assertThat(summary).as("summary").contains("Graceful shutdown COMPLETED").contains("0 stragglers");
				softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
				E2eFixture.assertAll(softly, context);
			}
		}
		finally {
			clients.shutdownNow();
		}
	}

	private static RawHttp connect(int port) throws Exception {
		return RawHttp.connect(port, Duration.ofSeconds(2), Duration.ofSeconds(10));
	}

}
