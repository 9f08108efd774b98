package io.github.gracefulshutdown.core;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.TrackedJob;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The shutdown sequence as seen in a real JFR recording, read back from its file.
 */
class ShutdownEventsTests {

	private final CancellableToken token = new CancellableToken();

	private final DefaultJobRegistry registry = new DefaultJobRegistry(this.token);

	@Test
	void aRecordingShowsTheDrainDelayTheDrainEachParticipantAndEachStraggler(@TempDir Path dir) throws Exception {
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, List.of(),
				new ShutdownCoordinator.Settings(Duration.ofMillis(200), Duration.ofMillis(400), Duration.ofSeconds(1),
						true));
		coordinator.start();
		CountDownLatch begun = new CountDownLatch(2);
		Thread cooperative = job("cooperative", begun, () -> this.token.await(Duration.ofMinutes(1)));
		Thread deaf = job("deaf", begun, () -> {
			try {
				Thread.sleep(60_000);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
			}
		});
		assertThat(begun.await(10, TimeUnit.SECONDS)).isTrue();
		Path file = dir.resolve("shutdown.jfr");
		try (Recording recording = new Recording()) {
			for (String name : List.of("DrainDelay", "Draining", "ParticipantDrain", "Straggler")) {
				recording.enable("io.github.gracefulshutdown." + name).withoutThreshold();
			}
			recording.start();
			coordinator.stop();
			assertThat(coordinator.whenFinished()).succeedsWithin(Duration.ofSeconds(10));
			recording.stop();
			recording.dump(file);
		}
		cooperative.join(5000);
		deaf.join(5000);

		List<RecordedEvent> events = RecordingFile.readAllEvents(file);
		assertThat(named(events, "DrainDelay")).singleElement().satisfies((event) -> {
			assertThat(event.getDuration()).isGreaterThanOrEqualTo(Duration.ofMillis(190));
			assertThat(event.getDuration("delay")).isEqualTo(Duration.ofMillis(200));
		});
		assertThat(named(events, "Draining")).singleElement().satisfies((event) -> {
			assertThat(event.getString("outcome")).isEqualTo("TIMED_OUT");
			assertThat(event.getDuration("timeout")).isEqualTo(Duration.ofMillis(400));
			assertThat(event.getString("inFlight")).startsWith("2 jobs");
			assertThat(event.getString("drained")).isEqualTo("1 job stopped");
			assertThat(event.getInt("stragglers")).isEqualTo(1);
			assertThat(event.getDuration()).isGreaterThanOrEqualTo(Duration.ofMillis(390));
			assertThat(event.getStartTime()).isAfterOrEqualTo(named(events, "DrainDelay").get(0).getEndTime());
		});
		assertThat(named(events, "ParticipantDrain")).singleElement().satisfies((event) -> {
			assertThat(event.getString("participant")).isEqualTo(Units.JOB);
			assertThat(event.getLong("drained")).isEqualTo(1);
			assertThat(event.getLong("left")).isEqualTo(1);
		});
		assertThat(named(events, "Straggler")).singleElement().satisfies((event) -> {
			assertThat(event.getString("kind")).isEqualTo(Units.JOB);
			assertThat(event.getString("name")).isEqualTo("TRACKED job 'deaf'");
			assertThat(event.getDuration("age")).isGreaterThanOrEqualTo(Duration.ofMillis(600));
			assertThat(event.getThread("workThread").getJavaName()).isEqualTo("job-deaf");
		});
	}

	@Test
	void withoutARecordingTheSequenceRunsTheSame() {
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, List.of(),
				new ShutdownCoordinator.Settings(Duration.ZERO, Duration.ofSeconds(5), Duration.ofSeconds(1), true));
		coordinator.start();
		coordinator.stop();
		assertThat(coordinator.whenFinished()).succeedsWithin(Duration.ofSeconds(10))
			.isEqualTo(ShutdownState.COMPLETED);
	}

	private static List<RecordedEvent> named(List<RecordedEvent> events, String name) {
		return events.stream().filter((event) -> event.getEventType().getName().equals("io.github.gracefulshutdown." + name))
			.toList();
	}

	private Thread job(String name, CountDownLatch begun, Runnable work) {
		Thread thread = new Thread(() -> {
			try (TrackedJob job = this.registry.begin(name)) {
				begun.countDown();
				work.run();
			}
		}, "job-" + name);
		thread.start();
		return thread;
	}

}
