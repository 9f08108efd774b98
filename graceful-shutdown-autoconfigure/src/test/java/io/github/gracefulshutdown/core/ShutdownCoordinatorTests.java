package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.github.gracefulshutdown.ShutdownInProgressException;
import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.TrackedJob;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.support.GenericApplicationContext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

@ExtendWith(OutputCaptureExtension.class)
class ShutdownCoordinatorTests {

	private final CancellableToken token = new CancellableToken();

	private final DefaultJobRegistry registry = new DefaultJobRegistry(this.token);

	@Test
	void stopReturnsAtOnceAndCallsBackWhenTheLastJobEnds(CapturedOutput output) throws Exception {
		ShutdownCoordinator coordinator = coordinator(List.of(), Duration.ZERO, Duration.ofSeconds(30));
		Thread job = startJob("cooperative", () -> {
			this.token.await(Duration.ofMinutes(1));
			sleep(200);
		});
		CountDownLatch stopped = new CountDownLatch(1);
		long start = System.nanoTime();
		coordinator.stop(stopped::countDown);
		assertThat(Duration.ofNanos(System.nanoTime() - start)).as("stop(Runnable) must not block")
			.isLessThan(Duration.ofMillis(500));
		assertThat(stopped.await(10, TimeUnit.SECONDS)).isTrue();
		assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(200));
		job.join();
		assertThat(coordinator.state()).isEqualTo(ShutdownState.COMPLETED);
		assertThat(coordinator.isRunning()).isFalse();
		assertThat(coordinator.whenFinished()).isCompletedWithValue(ShutdownState.COMPLETED);
		assertThat(output).contains("Graceful shutdown COMPLETED in").contains("1 job stopped, 0 stragglers");
		assertThatExceptionOfType(ShutdownInProgressException.class).isThrownBy(() -> this.registry.begin("late"));
	}

	@Test
	void atTheDeadlineStragglersAreReportedWithTheirStackAndInterrupted(CapturedOutput output) throws Exception {
		ShutdownCoordinator coordinator = coordinator(List.of(), Duration.ZERO, Duration.ofMillis(300));
		AtomicBoolean interrupted = new AtomicBoolean();
		Thread job = startJob("deaf", () -> {
			try {
				ignoresTheToken();
			}
			catch (InterruptedException ex) {
				interrupted.set(true);
			}
		});
		long start = System.nanoTime();
		CountDownLatch stopped = new CountDownLatch(1);
		coordinator.stop(stopped::countDown);
		assertThat(stopped.await(10, TimeUnit.SECONDS)).isTrue();
		Duration took = Duration.ofNanos(System.nanoTime() - start);
		assertThat(took).isBetween(Duration.ofMillis(300), Duration.ofSeconds(3));
		job.join(5000);
		assertThat(interrupted).isTrue();
		assertThat(coordinator.state()).isEqualTo(ShutdownState.TIMED_OUT);
		assertThat(coordinator.stragglers()).extracting(ShutdownSummary.Straggler::description)
			.containsExactly("TRACKED job 'deaf'");
		assertThat(output).contains("Shutdown deadline of 0.30 s passed with 1 straggler; interrupting their threads:")
			.contains("TRACKED job 'deaf', running for")
			.contains("on thread job-deaf")
			.contains(ShutdownCoordinatorTests.class.getName() + ".ignoresTheToken(")
			.contains("Graceful shutdown TIMED_OUT in")
			.contains("1 straggler (TRACKED job 'deaf')");
		assertThatExceptionOfType(ShutdownInProgressException.class).isThrownBy(() -> this.registry.begin("late"))
			.withMessageContaining("deadline");
	}

	private void ignoresTheToken() throws InterruptedException {
		Thread.sleep(60_000);
	}

	@Test
	void aCloseOfAContextWhoseCoordinatorNeverStartedNeitherDrainsNorWaits() {
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, List.of(),
				new ShutdownCoordinator.Settings(Duration.ZERO, Duration.ofSeconds(30), Duration.ofSeconds(1), true));
		GenericApplicationContext context = new GenericApplicationContext();
		coordinator.setApplicationContext(context);
		long start = System.nanoTime();
		coordinator.onApplicationEvent(new ContextClosedEvent(context));
		assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
		assertThat(coordinator.state()).isEqualTo(ShutdownState.RUNNING);
		assertThat(this.token.isShutdownRequested()).isFalse();
	}

	@Test
	void stragglersAreNotInterruptedWhenDisabled() throws Exception {
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, List.of(),
				new ShutdownCoordinator.Settings(Duration.ZERO, Duration.ofMillis(100), Duration.ofSeconds(1), false));
		coordinator.start();
		CountDownLatch release = new CountDownLatch(1);
		AtomicBoolean interrupted = new AtomicBoolean();
		Thread job = startJob("deaf", () -> {
			try {
				release.await();
			}
			catch (InterruptedException ex) {
				interrupted.set(true);
			}
		});
		coordinator.stop();
		assertThat(coordinator.state()).isEqualTo(ShutdownState.TIMED_OUT);
		release.countDown();
		job.join(5000);
		assertThat(interrupted).isFalse();
	}

	@Test
	void drainDelayKeepsTheTokenUncancelledThenStartsTheDeadline() throws Exception {
		ShutdownCoordinator coordinator = coordinator(List.of(), Duration.ofMillis(300), Duration.ofSeconds(5));
		AtomicLong cancelledAt = new AtomicLong();
		this.token.onShutdown(() -> cancelledAt.set(System.nanoTime()));
		long start = System.nanoTime();
		CountDownLatch stopped = new CountDownLatch(1);
		coordinator.stop(stopped::countDown);
		Thread.sleep(100);
		assertThat(coordinator.state()).isEqualTo(ShutdownState.DRAIN_DELAY);
		assertThat(this.token.isShutdownRequested()).isFalse();
		assertThat(coordinator.deadline()).isNull();
		assertThat(stopped.await(10, TimeUnit.SECONDS)).isTrue();
		assertThat(Duration.ofNanos(cancelledAt.get() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
		assertThat(coordinator.deadline()).isAfter(java.util.Objects.requireNonNull(coordinator.startedAt()).plusMillis(5000));
		assertThat(this.token.deadline()).isEqualTo(coordinator.deadline());
		assertThat(coordinator.phaseTimeout()).isEqualTo(Duration.ofMillis(300 + 5000 + 5000));
	}

	@Test
	void participantsDrainInParallelWithJobsAndTheirCountsAreSummed(CapturedOutput output) throws Exception {
		HandDrivenParticipant requests = new HandDrivenParticipant();
		ShutdownCoordinator coordinator = coordinator(List.of(requests), Duration.ZERO, Duration.ofSeconds(10));
		Thread job = startJob("job", () -> {
			this.token.await(Duration.ofMinutes(1));
			sleep(100);
		});
		CountDownLatch stopped = new CountDownLatch(1);
		coordinator.stop(stopped::countDown);
		assertThat(requests.drainStarted.await(5, TimeUnit.SECONDS)).isTrue();
		assertThat(this.token.isShutdownRequested()).as("token cancelled before participants drain").isTrue();
		job.join(5000);
		Thread.sleep(100);
		assertThat(stopped.getCount()).as("still waiting for the participant").isOne();
		requests.finish(2);
		assertThat(stopped.await(5, TimeUnit.SECONDS)).isTrue();
		assertThat(coordinator.state()).isEqualTo(ShutdownState.COMPLETED);
		assertThat(output).contains("2 requests drained, 1 job stopped, 0 stragglers");
	}

	@Test
	void consumersStopFetchingAtOnceAndWhatTheyFinishDuringTheDrainDelayCountsAsDrained(CapturedOutput output)
			throws Exception {
		HandDrivenParticipant consumer = new HandDrivenParticipant("message", true);
		HandDrivenParticipant server = new HandDrivenParticipant("request", false);
		ShutdownCoordinator coordinator = coordinator(List.of(consumer, server), Duration.ofMillis(500),
				Duration.ofSeconds(10));
		CountDownLatch stopped = new CountDownLatch(1);
		coordinator.stop(stopped::countDown);
		assertThat(consumer.drainStarted.await(5, TimeUnit.SECONDS)).isTrue();
		assertThat(coordinator.state()).isEqualTo(ShutdownState.DRAIN_DELAY);
		assertThat(server.drainStarted.getCount()).as("the server still serves during the delay").isOne();
		// Finished during the delay, before draining starts: still drained, and counted.
		consumer.finish(2);
		assertThat(server.drainStarted.await(5, TimeUnit.SECONDS)).isTrue();
		server.finish(1);
		assertThat(stopped.await(5, TimeUnit.SECONDS)).isTrue();
		assertThat(coordinator.state()).isEqualTo(ShutdownState.COMPLETED);
		assertThat(output).contains("message consumers stopped fetching (1 participant), finishing ")
			.contains("2 messages drained, 1 request drained, 0 jobs stopped, 0 stragglers");
	}

	@Test
	void aParticipantThatFailsCountsAsDrainedWhileJobsAreStillAwaited(CapturedOutput output) throws Exception {
		ShutdownParticipant failing = new HandDrivenParticipant() {

			@Override
			public CompletionStage<?> drain() {
				return CompletableFuture.failedFuture(new IllegalStateException("connector gone"));
			}

		};
		ShutdownCoordinator coordinator = coordinator(List.of(failing), Duration.ZERO, Duration.ofSeconds(10));
		Thread job = startJob("job", () -> {
			this.token.await(Duration.ofMinutes(1));
			sleep(300);
		});
		long start = System.nanoTime();
		coordinator.stop();
		job.join(5000);
		assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
		assertThat(output).contains("Shutdown participant 'request' failed while draining")
			.contains("1 job stopped");
		// It still says it holds two requests: the verdict cannot claim that nothing was cut.
		assertThat(coordinator.state()).isEqualTo(ShutdownState.TIMED_OUT);
		assertThat(output).contains("still running as the context closed: 2 requests (GET /slow x2)");
	}

	@Test
	void aParticipantWhoseDrainThrowsNeverEndsCompletedEvenWithNothingLeftInFlight(CapturedOutput output)
			throws Exception {
		// What it held may have been cut without its knowing: a server it failed to drain.
		ShutdownParticipant failing = new ShutdownParticipant() {

			@Override
			public String name() {
				return "request";
			}

			@Override
			public CompletionStage<?> drain() {
				throw new IllegalStateException("request recycled");
			}

			@Override
			public List<InFlight> inFlight() {
				return List.of();
			}

		};
		ShutdownCoordinator coordinator = coordinator(List.of(failing), Duration.ZERO, Duration.ofSeconds(10));
		coordinator.stop();
		assertThat(output).contains("Shutdown participant 'request' failed to start draining");
		assertThat(coordinator.state()).isEqualTo(ShutdownState.TIMED_OUT);
	}

	@Test
	void progressIsLoggedEveryIntervalWhileDraining(CapturedOutput output) throws Exception {
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, List.of(),
				new ShutdownCoordinator.Settings(Duration.ZERO, Duration.ofSeconds(10), Duration.ofMillis(100), true));
		coordinator.start();
		TrackedJob job = this.registry.begin("ledger-sync");
		job.progress(45, 100);
		CountDownLatch stopped = new CountDownLatch(1);
		coordinator.stop(stopped::countDown);
		Thread.sleep(350);
		job.close();
		assertThat(stopped.await(5, TimeUnit.SECONDS)).isTrue();
		assertThat(output).containsPattern("draining: 1 job \\(ledger-sync 45%\\), \\d+\\.\\d s left");
	}

	@Test
	void stopWhenNotRunningCallsBackAtOnce() {
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, List.of(),
				new ShutdownCoordinator.Settings(Duration.ZERO, Duration.ofSeconds(1), Duration.ofSeconds(1), true));
		AtomicBoolean called = new AtomicBoolean();
		coordinator.stop(() -> called.set(true));
		assertThat(called).isTrue();
		assertThat(this.token.isShutdownRequested()).isFalse();
		assertThat(coordinator.getPhase()).isGreaterThan(Integer.MAX_VALUE - 1024);
		assertThat(coordinator.isPauseable()).isFalse();
	}

	@Test
	void workBegunWhileDrainingIsAwaitedAndTheRegistryIsSealedOnlyOnceEveryOtherParticipantHasDrained()
			throws Exception {
		HandDrivenParticipant requests = new HandDrivenParticipant();
		ShutdownCoordinator coordinator = coordinator(List.of(requests), Duration.ZERO, Duration.ofSeconds(10));
		CountDownLatch stopped = new CountDownLatch(1);
		coordinator.stop(stopped::countDown);
		assertThat(requests.drainStarted.await(5, TimeUnit.SECONDS)).isTrue();
		// Empty while requests still drain: a request may yet hand work off, so new work
		// is still accepted, and awaited.
		Thread.sleep(100);
		CountDownLatch release = new CountDownLatch(1);
		Runnable handedOff = this.registry.track("hand-off", () -> await(release));
		new Thread(handedOff, "hand-off").start();
		requests.finish(2);
		Thread.sleep(100);
		assertThat(stopped.getCount()).as("waits for the work the requests handed off").isOne();
		release.countDown();
		assertThat(stopped.await(5, TimeUnit.SECONDS)).isTrue();
		assertThat(coordinator.state()).isEqualTo(ShutdownState.COMPLETED);
		assertThatExceptionOfType(ShutdownInProgressException.class).isThrownBy(() -> this.registry.begin("late"))
			.withMessageContaining("the application has shut down");
	}

	@Test
	void aParticipantStillDrainingAtTheDeadlineNamesItsStragglers(CapturedOutput output) throws Exception {
		HandDrivenParticipant requests = new HandDrivenParticipant();
		ShutdownCoordinator coordinator = coordinator(List.of(requests), Duration.ZERO, Duration.ofMillis(200));
		coordinator.stop();
		assertThat(requests.deadlinePassed.getCount()).isZero();
		assertThat(coordinator.state()).isEqualTo(ShutdownState.TIMED_OUT);
		assertThat(coordinator.stragglers()).extracting(ShutdownSummary.Straggler::description)
			.containsExactly("GET /slow", "GET /slow");
		assertThat(output).contains("0 requests drained, 0 jobs stopped, 2 stragglers (GET /slow x2)");
	}

	@Test
	void aParticipantThatDoesNotCountIsAwaitedButClaimsNoFigure(CapturedOutput output) {
		CompletableFuture<Void> serverDrained = new CompletableFuture<>();
		ShutdownParticipant uncounted = new ShutdownParticipant() {

			@Override
			public String name() {
				return "request";
			}

			@Override
			public CompletionStage<?> drain() {
				new Thread(() -> {
					sleep(200);
					serverDrained.complete(null);
				}, "server-drain").start();
				return serverDrained;
			}

			@Override
			public List<InFlight> inFlight() {
				return List.of();
			}

		};
		ShutdownCoordinator coordinator = coordinator(List.of(uncounted), Duration.ZERO, Duration.ofSeconds(10));
		coordinator.stop();
		assertThat(serverDrained).isCompleted();
		assertThat(coordinator.state()).isEqualTo(ShutdownState.COMPLETED);
		assertThat(coordinator.inFlight()).containsOnlyKeys(Units.JOB);
		assertThat(output).contains("Draining 0 jobs within").contains("COMPLETED in").contains(": 0 jobs stopped, 0 stragglers")
			.doesNotContain("requests drained");
	}

	private ShutdownCoordinator coordinator(List<ShutdownParticipant> participants, Duration drainDelay,
			Duration timeout) {
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, participants,
				new ShutdownCoordinator.Settings(drainDelay, timeout, Duration.ofSeconds(1), true));
		coordinator.start();
		return coordinator;
	}

	private Thread startJob(String name, Runnable work) throws InterruptedException {
		CountDownLatch begun = new CountDownLatch(1);
		Thread thread = new Thread(() -> {
			try (TrackedJob job = this.registry.begin(name)) {
				begun.countDown();
				work.run();
			}
		}, "job-" + name);
		thread.start();
		begun.await();
		return thread;
	}

	private static void sleep(long millis) {
		try {
			Thread.sleep(millis);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	private static void await(CountDownLatch latch) {
		try {
			latch.await();
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	/** A participant of the user's own, whose in-flight units the test finishes by hand. */
	static class HandDrivenParticipant implements ShutdownParticipant {

		final CountDownLatch drainStarted = new CountDownLatch(1);

		final CountDownLatch deadlinePassed = new CountDownLatch(1);

		private final CompletableFuture<Void> drained = new CompletableFuture<>();

		private final List<InFlight> inFlight = new CopyOnWriteArrayList<>(
				List.of(new InFlight("GET /slow", Instant.now(), null), new InFlight("GET /slow", Instant.now(), null)));

		private final AtomicLong finished = new AtomicLong();

		private final String name;

		private final boolean atShutdownStart;

		HandDrivenParticipant() {
			this("request", false);
		}

		HandDrivenParticipant(String name, boolean atShutdownStart) {
			this.name = name;
			this.atShutdownStart = atShutdownStart;
		}

		@Override
		public String name() {
			return this.name;
		}

		@Override
		public boolean drainsAtShutdownStart() {
			return this.atShutdownStart;
		}

		@Override
		public CompletionStage<?> drain() {
			this.drainStarted.countDown();
			return this.drained;
		}

		@Override
		public List<InFlight> inFlight() {
			return this.inFlight;
		}

		@Override
		public OptionalLong inFlightCount() {
			return OptionalLong.of(this.inFlight.size());
		}

		@Override
		public OptionalLong completedCount() {
			return OptionalLong.of(this.finished.get());
		}

		@Override
		public List<InFlight> deadlinePassed() {
			this.deadlinePassed.countDown();
			return List.copyOf(this.inFlight);
		}

		void finish(int count) {
			this.finished.addAndGet(count);
			this.inFlight.clear();
			this.drained.complete(null);
		}

	}

}
