package io.github.gracefulshutdown;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.function.Consumer;

/**
 * The work shutdown waits for: Go's {@code sync.WaitGroup}, with names.
 * <p>
 * {@link #begin(String)} is {@code Add(1)} and {@link TrackedJob#close()} is
 * {@code Done()}; the shutdown sequence waits until every job begun has been closed, or
 * the deadline passes, woken by the last close rather than by polling. Names need not be
 * unique: many {@code import} jobs may run at once.
 * <p>
 * Work may begin at any time until shutdown has drained everything else, even while
 * requests and messages still drain, since they may hand work off; that work is
 * awaited. From the moment the registry has been found empty with nothing else left to
 * drain, or the deadline has passed, every call here throws
 * {@link ShutdownInProgressException}: work is either tracked and awaited, or refused at
 * submission, never silently dropped.
 * <p>
 * Inject the one the starter creates; the interface is not meant to be implemented by
 * applications.
 */
public interface JobRegistry {

	/**
	 * Begins a job on the calling thread. Close it when the work ends, on any thread.
	 * @param name a name for logs and the status endpoint; need not be unique
	 * @return the job, to close when the work is done
	 * @throws ShutdownInProgressException if the registry no longer accepts work
	 */
	TrackedJob begin(String name);

	/**
	 * Runs the task on the calling thread as a job. A task that throws ends its job as
	 * failed, and the exception reaches the caller.
	 * @param name the job's name
	 * @param task the work
	 * @throws ShutdownInProgressException if the registry no longer accepts work
	 */
	void run(String name, Runnable task);

	/**
	 * Calls the task on the calling thread as a job; see {@link #run(String, Runnable)}.
	 * @param <T> the result type
	 * @param name the job's name
	 * @param task the work
	 * @return the task's result
	 * @throws Exception whatever the task throws
	 */
	<T> T call(String name, Callable<T> task) throws Exception;

	/**
	 * Tracks a task from now, before it is handed to an executor, so that queued work is
	 * awaited too. The returned task must be run exactly once; if it never runs, it is
	 * reported as a straggler at the deadline rather than lost without a word.
	 * <pre>{@code
	 * executor.execute(registry.track("resize-image", () -> resize(image)));
	 * }</pre>
	 * @param name the job's name
	 * @param task the work
	 * @return a task that ends the job when it completes
	 * @throws ShutdownInProgressException if the registry no longer accepts work
	 */
	Runnable track(String name, Runnable task);

	/**
	 * Tracks a task from now, like {@link #track(String, Runnable)}, handing it its job so
	 * that it can report progress.
	 * @param name the job's name
	 * @param task the work, given its job
	 * @return a task that ends the job when it completes
	 * @throws ShutdownInProgressException if the registry no longer accepts work
	 */
	Runnable track(String name, Consumer<TrackedJob> task);

	/**
	 * Tracks a task from now; see {@link #track(String, Runnable)}.
	 * @param <T> the result type
	 * @param name the job's name
	 * @param task the work
	 * @return a task that ends the job when it completes
	 * @throws ShutdownInProgressException if the registry no longer accepts work
	 */
	<T> Callable<T> track(String name, Callable<T> task);

	/**
	 * Wraps an executor service of your own so that every task submitted through the
	 * wrapper is a job from submission, named {@code name}:
	 * <pre>{@code
	 * ExecutorService mail = registry.track("send-mail", Executors.newFixedThreadPool(4));
	 * mail.submit(() -> send(message));   // awaited at shutdown, even while queued
	 * }</pre>
	 * A task the executor rejects is not tracked: the rejection reaches the caller. A task
	 * that {@code shutdownNow()} removes from the queue is never run and is reported as a
	 * straggler at the deadline. Shutting the wrapper down shuts the executor down.
	 * @param name the name of every job
	 * @param executor the executor that runs the tasks
	 * @return the tracking wrapper
	 */
	ExecutorService track(String name, ExecutorService executor);

}
