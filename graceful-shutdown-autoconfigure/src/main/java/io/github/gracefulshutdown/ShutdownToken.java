package io.github.gracefulshutdown;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

/**
 * The one signal every job watches: it is cancelled once, when the application starts
 * to shut down, like the context returned by Go's {@code signal.NotifyContext}.
 * <p>
 * A job loops while the token lets it:
 * <pre>{@code
 * while (token.sleep(Duration.ofSeconds(5))) {
 *     pollOnce();
 * }
 * }</pre>
 * Everything that waits on the token ({@link #sleep}, {@link #await},
 * {@link #whenShutdownRequested()}, callbacks) is woken by the cancellation itself,
 * never by polling. The token is thread-safe; cancelling it is final.
 */
public final class ShutdownToken {

	private static final Log logger = LogFactory.getLog(ShutdownToken.class);

	private final CountDownLatch requested = new CountDownLatch(1);

	private final CompletableFuture<Void> future = new CompletableFuture<>();

	// Guarded by itself; only registration and cancellation take the lock, never waiting.
	private final Set<Runnable> callbacks = new LinkedHashSet<>();

	private volatile Instant deadline;

	/**
	 * Creates a token that has not been cancelled. Applications inject the one the
	 * starter creates; a token of your own is only useful in tests.
	 */
	public ShutdownToken() {
	}

	/**
	 * Returns whether shutdown has started.
	 * @return {@code true} once the token is cancelled
	 */
	public boolean isShutdownRequested() {
		return this.requested.getCount() == 0;
	}

	/**
	 * Throws if shutdown has started, so a job deep in a call stack can unwind. A
	 * {@code @Background} job that ends with this exception is considered stopped, not
	 * failed.
	 * @throws ShutdownInProgressException if the token is cancelled
	 */
	public void throwIfShutdownRequested() {
		if (isShutdownRequested()) {
			throw new ShutdownInProgressException("Shutdown requested");
		}
	}

	/**
	 * Sleeps for the given duration unless shutdown starts first.
	 * @param duration how long to sleep
	 * @return {@code true} if the whole duration passed, {@code false} as soon as
	 * shutdown is requested (or the thread is interrupted, whose flag is then kept set)
	 */
	public boolean sleep(Duration duration) {
		return !await(duration);
	}

	/**
	 * Waits until shutdown is requested or the timeout passes.
	 * @param timeout the longest time to wait
	 * @return {@code true} if shutdown was requested (or the thread was interrupted,
	 * whose flag is then kept set), {@code false} if the timeout passed first
	 */
	public boolean await(Duration timeout) {
		try {
			return this.requested.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
		}
		catch (InterruptedException ex) {
			// An interrupt is how stragglers are told at the deadline: treat it as stop.
			Thread.currentThread().interrupt();
			return true;
		}
	}

	/**
	 * Registers a callback to run once when shutdown is requested, on the thread that
	 * requests it. If shutdown was already requested, the callback runs at once on the
	 * calling thread. A callback that throws is logged and does not stop the others.
	 * @param callback the callback
	 * @return a handle whose {@code close()} unregisters the callback
	 */
	public Registration onShutdown(Runnable callback) {
		// A fresh wrapper per registration, so registering one Runnable twice gives two
		// independent handles.
		Runnable entry = callback::run;
		synchronized (this.callbacks) {
			if (!isShutdownRequested()) {
				this.callbacks.add(entry);
				return () -> {
					synchronized (this.callbacks) {
						this.callbacks.remove(entry);
					}
				};
			}
		}
		runCallback(callback);
		return () -> {
		};
	}

	/**
	 * Returns a future that completes when shutdown is requested. Completing or
	 * cancelling the returned future has no effect on the token.
	 * @return a new future, completed once shutdown starts
	 */
	public CompletableFuture<Void> whenShutdownRequested() {
		return this.future.copy();
	}

	/**
	 * Returns the instant by which all work must have finished, known from the moment
	 * shutdown is requested.
	 * @return the deadline, or empty while the application runs
	 */
	public Optional<Instant> deadline() {
		return Optional.ofNullable(this.deadline);
	}

	/**
	 * Cancels the token: wakes every waiter and runs every callback. Only the shutdown
	 * coordinator calls this; later calls do nothing.
	 * @param deadline when the shutdown budget runs out
	 * @return {@code true} if this call cancelled the token
	 */
	boolean cancel(Instant deadline) {
		List<Runnable> toRun;
		synchronized (this.callbacks) {
			if (isShutdownRequested()) {
				return false;
			}
			this.deadline = deadline;
			this.requested.countDown();
			toRun = new ArrayList<>(this.callbacks);
			this.callbacks.clear();
		}
		this.future.complete(null);
		toRun.forEach(ShutdownToken::runCallback);
		return true;
	}

	private static void runCallback(Runnable callback) {
		try {
			callback.run();
		}
		catch (RuntimeException | Error ex) {
			logger.error("Shutdown callback " + callback + " failed", ex);
		}
	}

	/**
	 * A registered callback; closing it unregisters the callback. Closing is
	 * idempotent and never throws.
	 */
	@FunctionalInterface
	public interface Registration extends AutoCloseable {

		@Override
		void close();

	}

}
