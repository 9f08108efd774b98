package io.github.gracefulshutdown.task;

import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobKind;

/**
 * An {@code ExecutorService} bean, with every task a {@link JobKind#ASYNC} job from
 * submission, named as {@link AsyncTaskTracking} names them. {@code submit},
 * {@code invokeAll} and {@code invokeAny} come through {@link #execute(Runnable)}; shutting
 * down and awaiting go to the executor it wraps.
 * <p>
 * It declares no {@code close()}. On JDK 19+ Spring infers {@code shutdown()} as the
 * destroy method of an {@code ExecutorService} whose {@code close()} is the interface's
 * own, because that one waits until every task has ended, a day at a time. A
 * {@code close()} declared here would be inferred instead and could hold the closing
 * thread forever; without one, the wrapped bean is destroyed as the bare one would be,
 * with a {@code shutdown()} that does not wait.
 */
final class TrackedExecutorService extends AbstractExecutorService {

	private final String name;

	private final ExecutorService delegate;

	private final Supplier<DefaultJobRegistry> registry;

	/**
	 * Creates the wrapper.
	 * @param name the bean's name, which names jobs that no {@code @Async} method
	 * submitted
	 * @param delegate the executor
	 * @param registry where tasks are tracked, asked for at the first task
	 */
	TrackedExecutorService(String name, ExecutorService delegate, Supplier<DefaultJobRegistry> registry) {
		this.name = name;
		this.delegate = delegate;
		this.registry = registry;
	}

	@Override
	public void execute(Runnable command) {
		if (command instanceof TrackedTask) {
			this.delegate.execute(command);
			return;
		}
		Revocable task = new Revocable(command);
		TrackedTask tracked = AsyncTaskTracking.track(this.registry.get(), this.name, task, command);
		try {
			this.delegate.execute(tracked);
		}
		catch (RuntimeException ex) {
			// Rejected: the caller hears of it, and there is nothing to wait for. Running
			// the revoked task ends its job and runs nothing.
			task.revoke();
			tracked.run();
			throw ex;
		}
	}

	@Override
	public void shutdown() {
		this.delegate.shutdown();
	}

	@Override
	public List<Runnable> shutdownNow() {
		return this.delegate.shutdownNow();
	}

	@Override
	public boolean isShutdown() {
		return this.delegate.isShutdown();
	}

	@Override
	public boolean isTerminated() {
		return this.delegate.isTerminated();
	}

	@Override
	public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
		return this.delegate.awaitTermination(timeout, unit);
	}

	@Override
	public String toString() {
		return "tracked '" + this.name + "' " + this.delegate;
	}

	/**
	 * A task that can be told not to run, for one the executor rejected.
	 */
	private static final class Revocable implements Runnable {

		private final Runnable task;

		private volatile boolean revoked;

		Revocable(Runnable task) {
			this.task = task;
		}

		void revoke() {
			this.revoked = true;
		}

		@Override
		public void run() {
			if (!this.revoked) {
				this.task.run();
			}
		}

		@Override
		public String toString() {
			return this.task.toString();
		}

	}

}
