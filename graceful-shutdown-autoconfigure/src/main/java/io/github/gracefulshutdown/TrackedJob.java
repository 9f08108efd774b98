package io.github.gracefulshutdown;

/**
 * One unit of work that shutdown waits for, begun with {@link JobRegistry#begin(String)}.
 * Closing it is the {@code Done()} of Go's {@code sync.WaitGroup}:
 * <pre>{@code
 * try (TrackedJob job = registry.begin("import")) {
 *     for (int i = 0; i < rows.size(); i++) {
 *         importRow(rows.get(i));
 *         job.progress(i + 1, rows.size());
 *     }
 * }
 * }</pre>
 * {@link #close()} and {@link #fail(Throwable)} may be called from any thread, any
 * number of times; only the first end counts. Progress is for people: it shows in the
 * status endpoint and the shutdown progress log.
 * <p>
 * A job belongs to the thread that began it, ran it (through
 * {@link JobRegistry#track(String, Runnable)}) or last reported its progress: that
 * thread's stack is logged, and it is interrupted, if the job is still running at the
 * deadline. Work handed to another thread is best tracked with {@code track}, which
 * binds the job to the thread that runs it, and to no thread while it is queued.
 */
public interface TrackedJob extends AutoCloseable {

	/**
	 * Returns the name given at {@link JobRegistry#begin(String)}.
	 * @return the name, not necessarily unique
	 */
	String name();

	/**
	 * Reports progress as counts.
	 * @param done units done so far
	 * @param total units in all
	 */
	void progress(long done, long total);

	/**
	 * Reports progress as free text, such as {@code "page 7 of the export"}.
	 * @param message the message
	 */
	void progress(String message);

	/**
	 * Ends the job as failed, keeping the cause: the status endpoint shows it for a
	 * {@code @Background} job, which stays listed as failed. Like {@link #close()}, only
	 * the first end counts.
	 * @param cause why it failed
	 */
	void fail(Throwable cause);

	/**
	 * Ends the job. Idempotent, thread-safe, and never throws.
	 */
	@Override
	void close();

}
