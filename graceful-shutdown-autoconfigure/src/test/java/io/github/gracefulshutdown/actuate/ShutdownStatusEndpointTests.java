package io.github.gracefulshutdown.actuate;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.TrackedJob;
import io.github.gracefulshutdown.actuate.ShutdownStatusEndpoint.ShutdownStatus;
import io.github.gracefulshutdown.core.CancellableToken;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobKind;
import io.github.gracefulshutdown.core.JobState;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.core.ShutdownState;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ShutdownStatusEndpointTests {

	private final CancellableToken token = new CancellableToken();

	private final DefaultJobRegistry registry = new DefaultJobRegistry(this.token);

	@Test
	void whileRunningShowsTheLiveJobsWithTheirProgress() throws Exception {
		ShutdownCoordinator coordinator = coordinator(Duration.ofSeconds(30));
		TrackedJob sync = this.registry.begin("ledger-sync", JobKind.BACKGROUND);
		sync.progress(45, 100);
		Thread.sleep(5);
		this.registry.begin("import-7").progress("page 3");
		ShutdownStatus status = new ShutdownStatusEndpoint(coordinator, this.registry).status();
		assertThat(status.state()).isEqualTo(ShutdownState.RUNNING);
		assertThat(status.startedAt()).isNull();
		assertThat(status.deadline()).isNull();
		assertThat(status.activeJobs()).isEqualTo(2);
		assertThat(status.activeJobsByKind()).containsEntry(JobKind.BACKGROUND, 1L).containsEntry(JobKind.TRACKED, 1L);
		assertThat(status.jobs()).extracting(ShutdownStatusEndpoint.Job::name).containsExactly("ledger-sync", "import-7");
		ShutdownStatusEndpoint.Job first = status.jobs().get(0);
		assertThat(first.state()).isEqualTo(JobState.RUNNING);
		assertThat(first.progress()).isEqualTo(new ShutdownStatusEndpoint.Progress(45L, 100L, 45, null));
		assertThat(status.jobs().get(1).progress()).isEqualTo(new ShutdownStatusEndpoint.Progress(null, null, null, "page 3"));
	}

	@Test
	void whileDrainingShowsTheDeadlineTimeLeftAndStoppingJobs() throws Exception {
		ShutdownCoordinator coordinator = coordinator(Duration.ofSeconds(30));
		TrackedJob job = this.registry.begin("import-7", JobKind.ASYNC);
		CountDownLatch stopped = new CountDownLatch(1);
		coordinator.stop(stopped::countDown);
		this.token.await(Duration.ofSeconds(5));
		// The state follows the token's cancellation on the coordinator's thread.
		long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
		while (coordinator.state() != ShutdownState.DRAINING && System.nanoTime() < deadline) {
			Thread.onSpinWait();
		}
		ShutdownStatus status = new ShutdownStatusEndpoint(coordinator, this.registry).status();
		assertThat(status.state()).isEqualTo(ShutdownState.DRAINING);
		assertThat(status.deadline()).isNotNull();
		assertThat(Duration.parse(status.timeLeft())).isBetween(Duration.ofSeconds(25), Duration.ofSeconds(30));
		assertThat(Duration.parse(status.elapsed())).isLessThan(Duration.ofSeconds(5));
		assertThat(status.jobs()).singleElement().satisfies((described) -> {
			assertThat(described.kind()).isEqualTo(JobKind.ASYNC);
			assertThat(described.state()).isEqualTo(JobState.STOPPING);
		});
		job.close();
		assertThat(stopped.await(5, TimeUnit.SECONDS)).isTrue();
		ShutdownStatus done = new ShutdownStatusEndpoint(coordinator, this.registry).status();
		assertThat(done.state()).isEqualTo(ShutdownState.COMPLETED);
		assertThat(done.timeLeft()).isNull();
		assertThat(done.stragglers()).isEmpty();
	}

	@Test
	void atTheEndShowsStragglersByNameAndAgeWithoutStacks() throws Exception {
		ShutdownCoordinator coordinator = coordinator(Duration.ofMillis(200));
		Thread beginner = new Thread(() -> this.registry.begin("deaf"));
		beginner.start();
		beginner.join();
		coordinator.stop();
		ShutdownStatus status = new ShutdownStatusEndpoint(coordinator, this.registry).status();
		assertThat(status.state()).isEqualTo(ShutdownState.TIMED_OUT);
		assertThat(status.stragglers()).singleElement().satisfies((straggler) -> {
			assertThat(straggler.name()).isEqualTo("TRACKED job 'deaf'");
			assertThat(Duration.parse(straggler.age())).isGreaterThanOrEqualTo(Duration.ofMillis(200));
		});
		assertThat(status.toString()).doesNotContain("\tat ").doesNotContain("java.lang.Thread");
	}

	@Test
	void listsWhatEachParticipantHasInFlightByUnit() {
		Instant started = Instant.now().minusSeconds(3);
		ShutdownParticipant consumer = new ShutdownParticipant() {

			@Override
			public String name() {
				return "message";
			}

			@Override
			public CompletionStage<?> drain() {
				return new CompletableFuture<>();
			}

			@Override
			public OptionalLong inFlightCount() {
				return OptionalLong.of(2);
			}

			@Override
			public List<InFlight> inFlight() {
				return List.of(new InFlight("rabbit orders queue=orders", started, null),
						new InFlight("rabbit orders queue=orders", started.plusSeconds(1), null));
			}

		};
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, List.of(consumer),
				new ShutdownCoordinator.Settings(Duration.ZERO, Duration.ofSeconds(30), Duration.ofSeconds(10), true));
		this.registry.begin("import-7");
		ShutdownStatus status = new ShutdownStatusEndpoint(coordinator, this.registry).status();
		assertThat(status.inFlight()).containsEntry("message", 2L).containsEntry("job", 1L);
		assertThat(status.inFlightWork()).containsOnlyKeys("message");
		assertThat(status.inFlightWork().get("message")).hasSize(2).first().satisfies((work) -> {
			assertThat(work.description()).isEqualTo("rabbit orders queue=orders");
			assertThat(work.startedAt()).isEqualTo(started.toString());
			assertThat(Duration.parse(work.age())).isGreaterThanOrEqualTo(Duration.ofSeconds(3));
		});
	}

	@Test
	void tenThousandJobsAnswerFastAndBounded() {
		ShutdownCoordinator coordinator = coordinator(Duration.ofSeconds(30));
		List<TrackedJob> jobs = new ArrayList<>();
		for (int i = 0; i < 10_000; i++) {
			jobs.add(this.registry.begin("import-" + (i % 500)));
		}
		ShutdownStatusEndpoint endpoint = new ShutdownStatusEndpoint(coordinator, this.registry);
		for (int i = 0; i < 20; i++) {
			endpoint.status();
		}
		long[] nanos = new long[21];
		ShutdownStatus status = null;
		for (int i = 0; i < nanos.length; i++) {
			long start = System.nanoTime();
			status = endpoint.status();
			nanos[i] = System.nanoTime() - start;
		}
		Arrays.sort(nanos);
		System.out.printf("shutdown-status with 10,000 jobs: median %.2f ms, max %.2f ms over %d calls%n",
				nanos[nanos.length / 2] / 1e6, nanos[nanos.length - 1] / 1e6, nanos.length);
		// Generous: the bound must hold on a loaded machine too (a median of 14 ms with the
		// load average at 19, and 56 ms once at 16, on 2 cores); a listing that walked all
		// 10,000 jobs into the answer would take far longer and fail the size checks below.
		assertThat(Duration.ofNanos(nanos[nanos.length / 2])).isLessThan(Duration.ofMillis(250));
		assertThat(status.activeJobs()).isEqualTo(10_000);
		assertThat(status.jobCount()).isEqualTo(10_000);
		assertThat(status.jobs()).hasSize(ShutdownStatusEndpoint.DETAIL_LIMIT);
		assertThat(status.jobGroups()).hasSize(ShutdownStatusEndpoint.GROUP_LIMIT)
			.allSatisfy((group) -> assertThat(group.count()).isEqualTo(20));
		jobs.forEach(TrackedJob::close);
	}

	private ShutdownCoordinator coordinator(Duration timeout) {
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, List.of(),
				new ShutdownCoordinator.Settings(Duration.ZERO, timeout, Duration.ofSeconds(10), true));
		coordinator.start();
		return coordinator;
	}

}
