package io.github.gracefulshutdown;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;

import org.jspecify.annotations.Nullable;

/**
 * The one signal every job watches: cancelled once, when the application starts to
 * shut down, like the context returned by Go's {@code signal.NotifyContext}. Only the
 * shutdown sequence holds the cancel; applications inject the token and watch it.
 * <p>
 * A job loops while the token lets it:
 * <pre>{@code
 * while (token.sleep(Duration.ofSeconds(5))) {
 *     pollOnce();
 * }
 * }</pre>
 * Everything that waits on the token ({@link #sleep}, {@link #await},
 * {@link #whenShutdownRequested()}, callbacks) is woken by the cancellation itself,
 * never by polling. The token is thread-safe; cancellation is final.
 */
public interface ShutdownToken {

	/**
	 * Returns whether shutdown has started.
	 * @return {@code true} once the token is cancelled
	 */
	boolean isShutdownRequested();

	/**
	 * Throws if shutdown has started, so a job deep in a call stack can unwind. A
	 * {@code @Background} job that ends with this exception is considered stopped, not
	 * failed.
	 * @throws ShutdownInProgressException if the token is cancelled
	 */
	default void throwIfShutdownRequested() {
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
	default boolean sleep(Duration duration) {
		return !await(duration);
	}

	/**
	 * Waits until shutdown is requested or the timeout passes.
	 * @param timeout the longest time to wait
	 * @return {@code true} if shutdown was requested (or the thread was interrupted,
	 * whose flag is then kept set), {@code false} if the timeout passed first
	 */
	boolean await(Duration timeout);

	/**
	 * Registers a callback to run once when shutdown is requested, on the thread that
	 * requests it; at once, on the calling thread, if it already was. A callback that
	 * throws is logged and does not stop the others. Like Go's {@code context.AfterFunc},
	 * it returns the way to take the callback back:
	 * <pre>{@code
	 * Runnable unregister = token.onShutdown(consumer::wakeup);
	 * ...
	 * unregister.run();   // idempotent; does nothing once the callback has run
	 * }</pre>
	 * @param callback the callback
	 * @return a {@link Runnable} that unregisters the callback
	 */
	Runnable onShutdown(Runnable callback);

	/**
	 * Returns a future that completes when shutdown is requested. Completing or
	 * cancelling the returned future has no effect on the token.
	 * @return a new future, completed once shutdown starts
	 */
	CompletableFuture<Void> whenShutdownRequested();

	/**
	 * Returns the instant by which all work must have finished, known from the moment
	 * shutdown is requested.
	 * @return the deadline, or {@code null} while the application runs
	 */
	@Nullable Instant deadline();

}
