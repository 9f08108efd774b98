package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.ShutdownToken;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

/**
 * The {@link ShutdownToken} together with its cancel, as Go's
 * {@code ctx, cancel := context.WithCancel(parent)}: applications see the token, and only
 * the holder of this class, the shutdown sequence, calls {@link #cancel(Instant)}.
 * <p>
 * A {@link CountDownLatch} wakes every waiter at once; callbacks run on the cancelling
 * thread.
 */
public final class CancellableToken implements ShutdownToken {

	private static final Log logger = LogFactory.getLog(CancellableToken.class);

	private final CountDownLatch requested = new CountDownLatch(1);

	private final CompletableFuture<Void> future = new CompletableFuture<>();

	// Guarded by itself; only registration and cancellation take the lock, never waiting.
	private final Set<Runnable> callbacks = new LinkedHashSet<>();

	private volatile @Nullable Instant deadline;

	@Override
	public boolean isShutdownRequested() {
		return this.requested.getCount() == 0;
	}

	@Override
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

	@Override
	public Runnable onShutdown(Runnable callback) {
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

	@Override
	public CompletableFuture<Void> whenShutdownRequested() {
		return this.future.copy();
	}

	@Override
	public @Nullable Instant deadline() {
		return this.deadline;
	}

	/**
	 * Cancels the token: wakes every waiter and runs every callback. Later calls do
	 * nothing.
	 * @param deadline when the shutdown budget runs out
	 * @return {@code true} if this call cancelled the token
	 */
	public boolean cancel(Instant deadline) {
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
		toRun.forEach(CancellableToken::runCallback);
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

}
