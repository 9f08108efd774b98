package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;

import io.github.gracefulshutdown.ShutdownInProgressException;
import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.TrackedJob;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

class DefaultJobRegistryTests {

	private final CancellableToken token = new CancellableToken();

	private final DefaultJobRegistry registry = new DefaultJobRegistry(this.token);

	@Test
	void concurrentBeginAndCloseFromManyThreadsLeavesItEmpty() throws Exception {
		int threads = 8;
		int jobsPerThread = 50_000;
		CompletableFuture<Void> empty = null;
		ExecutorService executor = Executors.newFixedThreadPool(threads);
		try {
			CountDownLatch go = new CountDownLatch(1);
			List<Future<?>> futures = new ArrayList<>();
			for (int t = 0; t < threads; t++) {
				futures.add(executor.submit(() -> {
					go.await();
					for (int i = 0; i < jobsPerThread; i++) {
						TrackedJob job = this.registry.begin("job");
						job.progress(i, jobsPerThread);
						job.close();
					}
					return null;
				}));
			}
			// Held open across the storm, so the registry cannot be empty until the end.
			TrackedJob holder = this.registry.begin("holder");
			empty = this.registry.whenEmpty();
			go.countDown();
			for (Future<?> future : futures) {
				future.get(60, TimeUnit.SECONDS);
			}
			assertThat(empty).isNotDone();
			assertThat(this.registry.activeCount()).isEqualTo(1);
			holder.close();
		}
		finally {
			executor.shutdownNow();
		}
		assertThat(empty).succeedsWithin(Duration.ofSeconds(1));
		assertThat(this.registry.activeCount()).isZero();
		assertThat(this.registry.jobs()).isEmpty();
		assertThat(this.registry.completedCount().getAsLong()).isEqualTo(threads * jobsPerThread + 1L);
	}

	@Test
	void neverReportsEmptyWhileJobsAreHandedFromThreadToThread() throws Exception {
		// A ring of threads passes one job along: each receiver begins a new job, then
		// closes the one it received. So a job always begins in one thread's stripe and
		// ends in another's, and the registry is never empty. This is where a check that
		// sums the stripes in one pass can see a zero, though the window is too narrow to
		// hit reliably; the next test forces it.
		int threads = 4;
		int handOffs = 40_000;
		List<LinkedBlockingQueue<TrackedJob>> inboxes = new ArrayList<>();
		for (int t = 0; t < threads; t++) {
			inboxes.add(new LinkedBlockingQueue<>());
		}
		AtomicBoolean sawEmpty = new AtomicBoolean();
		AtomicBoolean running = new AtomicBoolean(true);
		Thread checker = new Thread(() -> {
			while (running.get()) {
				try {
					if (this.registry.awaitEmpty(Duration.ZERO)) {
						sawEmpty.set(true);
					}
				}
				catch (InterruptedException ex) {
					return;
				}
			}
		}, "empty-checker");
		ExecutorService ring = Executors.newFixedThreadPool(threads);
		try {
			List<Future<?>> futures = new ArrayList<>();
			for (int t = 0; t < threads; t++) {
				LinkedBlockingQueue<TrackedJob> inbox = inboxes.get(t);
				LinkedBlockingQueue<TrackedJob> next = inboxes.get((t + 1) % threads);
				futures.add(ring.submit(() -> {
					for (int i = 0; i < handOffs / threads; i++) {
						TrackedJob received = inbox.take();
						TrackedJob mine = this.registry.begin("baton");
						received.close();
						next.put(mine);
					}
					return null;
				}));
			}
			// The first baton exists before the checker starts: from here on, the registry
			// is never empty.
			inboxes.get(0).put(this.registry.begin("baton"));
			checker.start();
			for (Future<?> future : futures) {
				future.get(60, TimeUnit.SECONDS);
			}
		}
		finally {
			running.set(false);
			checker.join();
			ring.shutdownNow();
		}
		assertThat(sawEmpty).as("reported empty while a job was active").isFalse();
		assertThat(this.registry.activeCount()).isEqualTo(1);
		assertThat(inboxes.get(0).poll(5, TimeUnit.SECONDS)).isNotNull().satisfies(TrackedJob::close);
		assertThat(this.registry.whenEmpty()).isCompleted();
	}

	@Test
	void isNotEmptyWhenAJobBeginsInAStripeAlreadyReadWhileAnotherEndsInOneNotReadYet() throws Exception {
		TrackedJob[] jobs = new TrackedJob[2];
		// Unstarted threads already have their ids, so their stripes are known: one that
		// begins job x in a later stripe, one that begins job y in an earlier stripe and
		// then closes x.
		Thread beginX = null;
		Thread handOff = null;
		while (beginX == null || handOff == null
				|| this.registry.tracker().stripeIndex(handOff) >= this.registry.tracker().stripeIndex(beginX)) {
			Thread candidate = new Thread(() -> jobs[0] = this.registry.begin("x"));
			if (beginX == null || this.registry.tracker().stripeIndex(candidate) > this.registry.tracker().stripeIndex(beginX)) {
				beginX = candidate;
			}
			handOff = new Thread(() -> {
				jobs[1] = this.registry.begin("y");
				jobs[0].close();
			});
		}
		beginX.start();
		beginX.join();
		int earlier = this.registry.tracker().stripeIndex(handOff);
		Thread interleaved = handOff;
		AtomicBoolean handedOff = new AtomicBoolean();
		this.registry.tracker().afterStripeRead = (stripe) -> {
			if (stripe == earlier && handedOff.compareAndSet(false, true)) {
				interleaved.start();
				try {
					interleaved.join();
				}
				catch (InterruptedException ex) {
					Thread.currentThread().interrupt();
				}
			}
		};
		// The check reads y's stripe before y begins, and x's after x has ended: one pass
		// would add up to zero, although y was active the whole time x was not.
		assertThat(this.registry.tracker().isEmpty()).isFalse();
		assertThat(handedOff).isTrue();
		this.registry.tracker().afterStripeRead = null;
		assertThat(this.registry.activeCount()).isOne();
		assertThat(this.registry.jobs()).extracting(JobInfo::name).containsExactly("y");
		jobs[1].close();
		assertThat(this.registry.tracker().isEmpty()).isTrue();
	}

	@Test
	void endedJobsAreUnlinkedWhileALongJobStaysListed() {
		TrackedJob longJob = this.registry.begin("long");
		for (int i = 0; i < 100_000; i++) {
			this.registry.begin("short").close();
		}
		assertThat(this.registry.tracker().linkedCount()).as("ended jobs still linked").isLessThan(1_000);
		assertThat(this.registry.jobs()).extracting(JobInfo::name).containsExactly("long");
		assertThat(this.registry.tracker().active()).singleElement().isSameAs(longJob);
		longJob.close();
		assertThat(this.registry.jobs()).isEmpty();
		assertThat(this.registry.completedCount().getAsLong()).isEqualTo(100_001);
	}

	@Test
	void closeIsIdempotentAcrossThreads() throws Exception {
		TrackedJob job = this.registry.begin("once");
		TrackedJob other = this.registry.begin("other");
		Thread closer = new Thread(job::close);
		closer.start();
		closer.join();
		job.close();
		job.fail(new IllegalStateException());
		assertThat(this.registry.activeCount()).isEqualTo(1);
		other.close();
		assertThat(this.registry.activeCount()).isZero();
	}

	@Test
	void whenEmptyCompletesAtOnceWhenNothingIsActive() {
		assertThat(this.registry.whenEmpty()).isCompleted();
	}

	@Test
	void awaitEmptyTimesOutWhileAJobRunsAndWakesOnTheLastClose() throws Exception {
		TrackedJob first = this.registry.begin("first");
		TrackedJob second = this.registry.begin("second");
		assertThat(this.registry.awaitEmpty(Duration.ofMillis(20))).isFalse();
		first.close();
		CompletableFuture<Boolean> awaited = CompletableFuture.supplyAsync(() -> {
			try {
				return this.registry.awaitEmpty(Duration.ofMinutes(1));
			}
			catch (InterruptedException ex) {
				throw new IllegalStateException(ex);
			}
		});
		Thread.sleep(20);
		assertThat(awaited).isNotDone();
		long closedAt = System.nanoTime();
		second.close();
		assertThat(awaited).succeedsWithin(Duration.ofSeconds(5)).isEqualTo(true);
		assertThat(Duration.ofNanos(System.nanoTime() - closedAt)).isLessThan(Duration.ofSeconds(1));
	}

	@Test
	void beginAfterRefusalThrowsNamingTheJob() {
		this.registry.deadlinePassed();
		assertThatExceptionOfType(ShutdownInProgressException.class).isThrownBy(() -> this.registry.begin("late-import"))
			.withMessageContaining("'late-import'")
			.withMessageContaining("the shutdown deadline has passed");
	}

	@Test
	void jobsListsNameKindStateStartAndProgress() {
		Instant before = Instant.now().minusMillis(1);
		TrackedJob counted = this.registry.begin("import-1");
		counted.progress(45, 100);
		TrackedJob described = this.registry.begin("export", JobKind.ASYNC);
		described.progress("page 7");
		List<JobInfo> jobs = this.registry.jobs();
		assertThat(jobs).extracting(JobInfo::name).containsExactlyInAnyOrder("import-1", "export");
		JobInfo importJob = jobs.stream().filter((job) -> job.name().equals("import-1")).findFirst().orElseThrow();
		assertThat(importJob.kind()).isEqualTo(JobKind.TRACKED);
		assertThat(importJob.state()).isEqualTo(JobState.RUNNING);
		assertThat(importJob.startedAt()).isAfter(before);
		assertThat(importJob.progress().percent()).isEqualTo(45);
		assertThat(importJob.progress()).hasToString("45%");
		JobInfo exportJob = jobs.stream().filter((job) -> job.name().equals("export")).findFirst().orElseThrow();
		assertThat(exportJob.kind()).isEqualTo(JobKind.ASYNC);
		assertThat(exportJob.progress()).hasToString("page 7");
		assertThat(exportJob.progress().percent()).isEqualTo(-1);
		this.token.cancel(Instant.now());
		assertThat(this.registry.jobs()).extracting(JobInfo::state).containsOnly(JobState.STOPPING);
	}

	@Test
	void namesNeedNotBeUniqueExceptForBackgroundJobs() {
		this.registry.begin("import");
		this.registry.begin("import");
		assertThat(this.registry.activeCount()).isEqualTo(2);
		TrackedJob sync = this.registry.begin("sync", JobKind.BACKGROUND);
		assertThatIllegalArgumentException().isThrownBy(() -> this.registry.begin("sync", JobKind.BACKGROUND))
			.withMessageContaining("'sync'");
		sync.close();
		assertThatIllegalArgumentException().isThrownBy(() -> this.registry.begin("sync", JobKind.BACKGROUND));
	}

	@Test
	void backgroundJobsStayListedWithTheirEndState() {
		this.registry.begin("stopped", JobKind.BACKGROUND).close();
		this.registry.begin("failed", JobKind.BACKGROUND).fail(new IllegalStateException("boom"));
		this.registry.begin("tracked").close();
		assertThat(this.registry.activeCount()).isZero();
		assertThat(this.registry.jobs()).extracting(JobInfo::name, JobInfo::state, JobInfo::failure)
			.containsExactlyInAnyOrder(org.assertj.core.groups.Tuple.tuple("stopped", JobState.STOPPED, null),
					org.assertj.core.groups.Tuple.tuple("failed", JobState.FAILED,
							"java.lang.IllegalStateException: boom"));
	}

	@Test
	void trackCountsTheTaskFromSubmissionUntilItRuns() throws Exception {
		CountDownLatch ran = new CountDownLatch(1);
		Runnable task = this.registry.track("queued", ran::countDown);
		assertThat(this.registry.activeCount()).as("tracked while queued").isEqualTo(1);
		Thread worker = new Thread(task, "worker");
		worker.start();
		worker.join();
		assertThat(ran.getCount()).isZero();
		assertThat(this.registry.activeCount()).isZero();
	}

	@Test
	void trackHandsTheTaskItsJobForProgress() throws Exception {
		CountDownLatch release = new CountDownLatch(1);
		Runnable task = this.registry.track("import", (job) -> {
			job.progress(3, 4);
			try {
				release.await();
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
			}
		});
		Thread worker = new Thread(task, "worker");
		worker.start();
		long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
		while (this.registry.jobs().get(0).progress() == null && System.nanoTime() < deadline) {
			Thread.sleep(5);
		}
		assertThat(this.registry.jobs()).singleElement()
			.satisfies((job) -> assertThat(job.progress().percent()).isEqualTo(75));
		assertThat(this.registry.tracker().active()).singleElement()
			.satisfies((job) -> assertThat(job.thread()).isSameAs(worker));
		release.countDown();
		worker.join();
		assertThat(this.registry.activeCount()).isZero();
	}

	@Test
	void queuedWorkBelongsToNoThreadUntilItRuns() {
		this.registry.track("queued", () -> {
		});
		assertThat(this.registry.tracker().active()).singleElement()
			.satisfies((job) -> assertThat(job.thread()).as("not the submitter's thread").isNull());
	}

	@Test
	void aTrackedExecutorServiceTracksFromSubmissionAndForgetsRejectedTasks() throws Exception {
		ExecutorService single = Executors.newSingleThreadExecutor();
		ExecutorService tracked = this.registry.track("mail", single);
		CountDownLatch release = new CountDownLatch(1);
		Future<?> first = tracked.submit(() -> {
			release.await();
			return null;
		});
		tracked.submit(() -> {
		});
		assertThat(this.registry.activeCount()).as("running and queued").isEqualTo(2);
		assertThat(this.registry.jobs()).extracting(JobInfo::name).containsOnly("mail");
		release.countDown();
		first.get(5, TimeUnit.SECONDS);
		tracked.shutdown();
		assertThat(tracked.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
		assertThat(this.registry.activeCount()).isZero();
		assertThatExceptionOfType(java.util.concurrent.RejectedExecutionException.class)
			.isThrownBy(() -> tracked.execute(() -> {
			}));
		assertThat(this.registry.activeCount()).as("a rejected task is not waited for").isZero();
	}

	@Test
	void runAndCallTrackOnTheCallingThreadAndEndOnFailure() throws Exception {
		this.registry.run("run", () -> assertThat(this.registry.activeCount()).isEqualTo(1));
		assertThat(this.registry.call("call", () -> this.registry.activeCount())).isEqualTo(1L);
		assertThatIllegalStateException().isThrownBy(() -> this.registry.run("failing", () -> {
			throw new IllegalStateException("boom");
		}));
		assertThat(this.registry.activeCount()).isZero();
		assertThat(this.registry.completedCount().getAsLong()).isEqualTo(3);
	}

	@Test
	void drainSealsTheRegistryOnTheLastCloseAndRefusesWhatComesAfter() {
		TrackedJob job = this.registry.begin("import");
		CompletableFuture<?> drained = this.registry.drain().toCompletableFuture();
		TrackedJob handedOff = this.registry.begin("handed-off");
		job.close();
		assertThat(drained).as("a job begun while draining is awaited").isNotDone();
		handedOff.close();
		assertThat(drained).isCompleted();
		assertThatExceptionOfType(ShutdownInProgressException.class).isThrownBy(() -> this.registry.begin("late"))
			.withMessageContaining("'late'")
			.withMessageContaining("the application has shut down");
		assertThat(this.registry.completedCount()).hasValue(2);
	}

	@Test
	void aJobBegunWhileTheFinalCheckRunsIsAwaitedNeverAcceptedAndDropped() throws Exception {
		// The last check that finds the registry empty and the switch to refusing are one
		// step: a job that begins in the middle of that check either keeps the registry
		// open, and is awaited, or is refused. Here it begins at two bad moments: after
		// the check has read the first stripe, and after the check has found the
		// registry empty but before the registry refuses work.
		assertLateJobAwaitedOrRefused((tracker, hook) -> tracker.afterStripeRead = (stripe) -> {
			if (stripe == 0) {
				hook.run();
			}
		});
		assertLateJobAwaitedOrRefused((tracker, hook) -> tracker.beforeSealVerdict = hook);
	}

	private void assertLateJobAwaitedOrRefused(BiConsumer<InFlightTracker<?>, Runnable> installHook)
			throws Exception {
		DefaultJobRegistry registry = new DefaultJobRegistry(this.token);
		AtomicBoolean accepted = new AtomicBoolean();
		AtomicBoolean refused = new AtomicBoolean();
		TrackedJob[] late = new TrackedJob[1];
		Thread beginner = new Thread(() -> {
			try {
				late[0] = registry.begin("late");
				accepted.set(true);
			}
			catch (ShutdownInProgressException ex) {
				refused.set(true);
			}
		}, "late-beginner");
		AtomicBoolean interleaved = new AtomicBoolean();
		Runnable hook = () -> {
			if (interleaved.compareAndSet(false, true)) {
				beginner.start();
				// Until it has begun, or is held back waiting for this check's verdict.
				long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
				while (beginner.getState() != Thread.State.WAITING && beginner.isAlive()
						&& System.nanoTime() < until) {
					Thread.onSpinWait();
				}
			}
		};
		installHook.accept(registry.tracker(), hook);
		CompletableFuture<?> drained = registry.drain().toCompletableFuture();
		registry.tracker().afterStripeRead = null;
		registry.tracker().beforeSealVerdict = null;
		beginner.join(5_000);
		assertThat(interleaved).isTrue();
		assertThat(accepted.get() ^ refused.get()).as("the late job was either accepted or refused").isTrue();
		if (accepted.get()) {
			assertThat(drained).as("an accepted job holds the drain open").isNotDone();
			assertThat(registry.inFlight()).extracting(ShutdownParticipant.InFlight::description)
				.containsExactly("TRACKED job 'late'");
			late[0].close();
		}
		assertThat(drained).isCompleted();
	}

	@Test
	void atTheDeadlineEveryJobBegunBeforeIsListedAndLaterOnesAreRefused() {
		TrackedJob running = this.registry.begin("stuck");
		Runnable queued = this.registry.track("queued", () -> {
		});
		List<ShutdownParticipant.InFlight> left = this.registry.deadlinePassed();
		assertThat(left).extracting(ShutdownParticipant.InFlight::description, ShutdownParticipant.InFlight::thread)
			.as("queued work has no thread")
			.containsExactlyInAnyOrder(org.assertj.core.groups.Tuple.tuple("TRACKED job 'stuck'", Thread.currentThread()),
					org.assertj.core.groups.Tuple.tuple("TRACKED job 'queued'", null));
		assertThatExceptionOfType(ShutdownInProgressException.class).isThrownBy(() -> this.registry.begin("late"))
			.withMessageContaining("the shutdown deadline has passed");
		running.close();
		queued.run();
	}

	@Test
	void aFailedJobKeepsItsCause() {
		TrackedJob job = this.registry.begin("import");
		job.fail(new IllegalArgumentException("row 7 is malformed"));
		job.close();
		TrackedJob sync = this.registry.begin("sync", JobKind.BACKGROUND);
		sync.fail(new IllegalStateException("ledger unreachable"));
		assertThat(this.registry.jobs()).singleElement()
			.satisfies((info) -> assertThat(info.failure()).isEqualTo("java.lang.IllegalStateException: ledger unreachable"));
		assertThat(((DefaultJobRegistry.Job) job).failure()).isInstanceOf(IllegalArgumentException.class)
			.hasMessage("row 7 is malformed");
	}

}
