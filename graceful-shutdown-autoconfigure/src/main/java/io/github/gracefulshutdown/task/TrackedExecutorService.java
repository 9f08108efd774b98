package io.github.gracefulshutdown.task;

import java.util.concurrent.ExecutorService;
import java.util.function.Supplier;

import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.DelegatingExecutorService;
import io.github.gracefulshutdown.core.JobKind;

/**
 * An {@code ExecutorService} bean, with every task a {@link JobKind#ASYNC} job from
 * submission, named as {@link AsyncTaskTracking} names them. Like every
 * {@link DelegatingExecutorService}, it declares no {@code close()}, so that the wrapped
 * bean is destroyed as the bare one would be, with a {@code shutdown()} that does not
 * wait.
 */
final class TrackedExecutorService extends DelegatingExecutorService {

	private final Supplier<DefaultJobRegistry> registry;

	/**
	 * Creates the wrapper.
	 * @param name the bean's name, which names jobs that no {@code @Async} method
	 * submitted
	 * @param delegate the executor
	 * @param registry where tasks are tracked, asked for at the first task
	 */
	TrackedExecutorService(String name, ExecutorService delegate, Supplier<DefaultJobRegistry> registry) {
		super(name, delegate);
		this.registry = registry;
	}

	@Override
	public void execute(Runnable command) {
		if (command instanceof TrackedTask) {
			delegate().execute(command);
			return;
		}
		Revocable task = new Revocable(command);
		TrackedTask tracked = AsyncTaskTracking.track(this.registry.get(), name(), task, command);
		try {
			delegate().execute(tracked);
		}
		catch (RuntimeException ex) {
			// Rejected: the caller hears of it, and there is nothing to wait for. Running
			// the revoked task ends its job and runs nothing.
			task.revoke();
			tracked.run();
			throw ex;
		}
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
