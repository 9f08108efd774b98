package io.github.gracefulshutdown;

import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * An executor service whose every task is a tracked job from the moment it is submitted.
 * Shutting it down, awaiting it and the like go to the executor it wraps.
 */
final class TrackedExecutorService extends AbstractExecutorService {

	private final JobRegistry registry;

	private final String name;

	private final ExecutorService delegate;

	TrackedExecutorService(JobRegistry registry, String name, ExecutorService delegate) {
		this.registry = registry;
		this.name = name;
		this.delegate = delegate;
	}

	@Override
	public void execute(Runnable command) {
		// submit() and invokeAll() come here too, through AbstractExecutorService.
		TrackedJob job = JobRegistry.queued(this.registry.begin(this.name));
		try {
			this.delegate.execute(() -> {
				try (job) {
					JobRegistry.runAs(job, command);
				}
			});
		}
		catch (RuntimeException ex) {
			// Rejected: the caller hears of it, and there is nothing to wait for.
			job.close();
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

}
