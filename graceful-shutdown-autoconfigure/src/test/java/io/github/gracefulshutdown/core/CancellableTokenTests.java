package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.github.gracefulshutdown.ShutdownInProgressException;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

class CancellableTokenTests {

	private final CancellableToken token = new CancellableToken();

	@Test
	void sleepReturnsTrueWhenTheWholeDurationPassed() {
		long start = System.nanoTime();
		assertThat(this.token.sleep(Duration.ofMillis(50))).isTrue();
		assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(50));
	}

	@Test
	void sleepReturnsFalseAtOnceWhenAlreadyCancelled() {
		this.token.cancel(Instant.now());
		long start = System.nanoTime();
		assertThat(this.token.sleep(Duration.ofMinutes(1))).isFalse();
		assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
	}

	@Test
	void cancelWakesASleepingThreadWithinMilliseconds() throws Exception {
		// The median over a few rounds keeps one scheduling hiccup on a busy CI machine
		// from failing the test; the bound is generous, the figure is printed.
		long[] latencies = new long[20];
		for (int i = 0; i < latencies.length; i++) {
			latencies[i] = wakeLatencyNanos();
		}
		Arrays.sort(latencies);
		long median = latencies[latencies.length / 2];
		System.out.printf("token wake latency: median %.3f ms, max %.3f ms over %d rounds%n", median / 1e6,
				latencies[latencies.length - 1] / 1e6, latencies.length);
		assertThat(Duration.ofNanos(median)).isLessThan(Duration.ofMillis(5));
	}

	private static long wakeLatencyNanos() throws Exception {
		CancellableToken token = new CancellableToken();
		CountDownLatch sleeping = new CountDownLatch(1);
		AtomicLong wokeAt = new AtomicLong();
		Thread sleeper = new Thread(() -> {
			sleeping.countDown();
			if (!token.sleep(Duration.ofMinutes(1))) {
				wokeAt.set(System.nanoTime());
			}
		}, "sleeper");
		sleeper.start();
		sleeping.await();
		// Let the sleeper park on the latch, so we measure a wake-up, not a fast path.
		Thread.sleep(5);
		long cancelledAt = System.nanoTime();
		token.cancel(Instant.now());
		sleeper.join(TimeUnit.SECONDS.toMillis(10));
		assertThat(wokeAt.get()).isPositive();
		return wokeAt.get() - cancelledAt;
	}

	@Test
	void sleepReturnsFalseAndKeepsTheFlagWhenInterrupted() {
		Thread.currentThread().interrupt();
		try {
			assertThat(this.token.sleep(Duration.ofMinutes(1))).isFalse();
			assertThat(Thread.currentThread().isInterrupted()).isTrue();
		}
		finally {
			Thread.interrupted();
		}
	}

	@Test
	void callbacksRunOnceWhenCancelledInRegistrationOrder() {
		List<String> calls = new ArrayList<>();
		this.token.onShutdown(() -> calls.add("first"));
		this.token.onShutdown(() -> calls.add("second"));
		assertThat(this.token.cancel(Instant.now())).isTrue();
		assertThat(this.token.cancel(Instant.now())).isFalse();
		assertThat(calls).containsExactly("first", "second");
	}

	@Test
	void callbackRegisteredAfterCancellationRunsImmediately() {
		this.token.cancel(Instant.now());
		List<String> calls = new ArrayList<>();
		this.token.onShutdown(() -> calls.add("late"));
		assertThat(calls).containsExactly("late");
	}

	@Test
	void callbackThatThrowsDoesNotStopTheOthers() {
		List<String> calls = new CopyOnWriteArrayList<>();
		this.token.onShutdown(() -> {
			throw new IllegalStateException("boom");
		});
		this.token.onShutdown(() -> calls.add("after"));
		this.token.cancel(Instant.now());
		assertThat(calls).containsExactly("after");
	}

	@Test
	void closedRegistrationDoesNotRun() {
		List<String> calls = new ArrayList<>();
		Runnable callback = () -> calls.add("ran");
		Runnable first = this.token.onShutdown(callback);
		this.token.onShutdown(callback);
		first.run();
		first.run();
		this.token.cancel(Instant.now());
		assertThat(calls).containsExactly("ran");
	}

	@Test
	void futureAndDeadlineAreKnownOnceCancelled() {
		CompletableFuture<Void> future = this.token.whenShutdownRequested();
		assertThat(future).isNotDone();
		assertThat(this.token.deadline()).isNull();
		assertThat(this.token.isShutdownRequested()).isFalse();
		future.complete(null);
		assertThat(this.token.isShutdownRequested()).as("completing the view does not cancel the token").isFalse();
		CompletableFuture<Void> view = this.token.whenShutdownRequested();
		Instant deadline = Instant.now().plusSeconds(30);
		this.token.cancel(deadline);
		assertThat(view).isCompleted();
		assertThat(this.token.deadline()).isEqualTo(deadline);
		assertThat(this.token.isShutdownRequested()).isTrue();
	}

	@Test
	void throwIfShutdownRequested() {
		this.token.throwIfShutdownRequested();
		this.token.cancel(Instant.now());
		assertThatExceptionOfType(ShutdownInProgressException.class)
			.isThrownBy(this.token::throwIfShutdownRequested);
	}

}
