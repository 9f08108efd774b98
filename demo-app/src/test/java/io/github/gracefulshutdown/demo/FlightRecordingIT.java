package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * End to end: a JFR recording started the way a user starts one
 * ({@code -XX:StartFlightRecording:filename=...}) holds the shutdown sequence that a real
 * SIGTERM ran. Without the starter's first-signal action the JVM's own shutdown hook
 * would stop the recording as the JVM began to shut down, before any of these events.
 */
class FlightRecordingIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	@TempDir
	Path tempDir;

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void aRecordingStartedOnTheCommandLineHoldsTheSequenceThatSigtermRan() throws Exception {
		Path recording = this.tempDir.resolve("shutdown.jfr");
		Path journal = this.tempDir.resolve("journal.log");
		String verdict;
		try (DemoProcess app = DemoProcess.start("flight-recording",
				List.of("-XX:StartFlightRecording:filename=" + recording + ",settings=default"),
				List.of("--demo.journal=" + journal, "--demo.light.unit=500ms", "--demo.heavy.unit=1s",
						"--demo.scheduled.enabled=false", "--graceful-shutdown.drain-delay=1s",
						"--spring.lifecycle.timeout-per-shutdown-phase=10s", "--server.port=0",
						"--logging.level.org.springframework.boot.availability=debug"))) {
			app.awaitHttpPort(STARTUP_TIMEOUT);
			// The handler is installed by an ApplicationReadyEvent listener; readiness is
			// published after every such listener has run. Waiting for less raced.
			app.awaitLine("ReadinessState changed to ACCEPTING_TRAFFIC", STARTUP_TIMEOUT);
			app.sigterm();
			app.awaitExit(Duration.ofSeconds(60));
			assertThat(app.exitValue()).as("the exit status SIGTERM always gave").isEqualTo(143);
			assertThat(app.output())
				.contains("A JFR recording is running: closing the context before the JVM's shutdown hooks stop it");
			verdict = app.awaitLine("Graceful shutdown COMPLETED in ", Duration.ofSeconds(1));
		}

		List<RecordedEvent> events = RecordingFile.readAllEvents(recording)
			.stream()
			.filter((event) -> event.getEventType().getName().startsWith("io.github.gracefulshutdown."))
			.toList();
		assertThat(events).extracting((event) -> event.getEventType().getName())
			.contains("io.github.gracefulshutdown.DrainDelay", "io.github.gracefulshutdown.Draining",
					"io.github.gracefulshutdown.ParticipantDrain");
		RecordedEvent delay = only(events, "io.github.gracefulshutdown.DrainDelay");
		assertThat(delay.getDuration("delay")).isEqualTo(Duration.ofSeconds(1));
		assertThat(delay.getDuration()).isGreaterThanOrEqualTo(Duration.ofMillis(950));
		RecordedEvent draining = only(events, "io.github.gracefulshutdown.Draining");
		assertThat(draining.getString("outcome")).isEqualTo("COMPLETED");
		assertThat(draining.getInt("stragglers")).isZero();
		// The event says what the verdict line says.
		assertThat(verdict).contains(": " + draining.getString("drained") + ", 0 stragglers");
		RecordedEvent jobs = events.stream()
			.filter((event) -> event.getEventType().getName().equals("io.github.gracefulshutdown.ParticipantDrain"))
			.filter((event) -> "job".equals(event.getString("participant")))
			.findFirst()
			.orElseThrow(() -> new AssertionError("no ParticipantDrain for jobs in " + events));
		assertThat(jobs.getLong("drained")).as("the two background jobs stopped").isGreaterThanOrEqualTo(2);
		assertThat(jobs.getLong("left")).isZero();
		assertThat(delay.getEndTime()).isBeforeOrEqualTo(draining.getStartTime());
	}

	private static RecordedEvent only(List<RecordedEvent> events, String name) {
		List<RecordedEvent> named = events.stream().filter((event) -> event.getEventType().getName().equals(name)).toList();
		assertThat(named).as(name).hasSize(1);
		return named.get(0);
	}

}
