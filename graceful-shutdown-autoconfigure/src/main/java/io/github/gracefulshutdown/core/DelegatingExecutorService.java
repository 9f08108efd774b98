package io.github.gracefulshutdown.core;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * An executor service that tracks what is submitted and leaves the rest to the one it
 * wraps: subclasses say how {@link #execute(Runnable)} tracks a task ({@code submit},
 * {@code invokeAll} and {@code invokeAny} come through it); shutting down and awaiting go
 * to the delegate.
 * <p>
 * It declares no {@code close()}: on JDK 19+ Spring infers {@code shutdown()} as the
 * destroy method of an {@code ExecutorService} whose {@code close()} is the interface's
 * own, which waits until every task has ended. A {@code close()} declared here would be
 * inferred instead and could hold the closing thread for as long.
 */
public abstract class DelegatingExecutorService extends AbstractExecutorService {

	private final String name;

	private final ExecutorService delegate;

	/**
	 * Creates a wrapper.
	 * @param name what the wrapper is called, in {@link #toString()}
	 * @param delegate the executor that runs the tasks
	 */
	protected DelegatingExecutorService(String name, ExecutorService delegate) {
		this.name = Objects.requireNonNull(name, "name must not be null");
		this.delegate = Objects.requireNonNull(delegate, "delegate must not be null");
	}

	/**
	 * Returns the wrapper's name.
	 * @return the name
	 */
	protected final String name() {
		return this.name;
	}

	/**
	 * Returns the executor that runs the tasks.
	 * @return the delegate
	 */
	protected final ExecutorService delegate() {
		return this.delegate;
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
