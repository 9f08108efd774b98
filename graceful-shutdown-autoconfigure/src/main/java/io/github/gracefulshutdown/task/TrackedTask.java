package io.github.gracefulshutdown.task;

/**
 * A task that is a tracked job already. An executor of ours that is handed one (a
 * scheduler passing its runs to a target executor, an adapter around a tracked
 * {@code ExecutorService}) passes it on untracked: one task, one job.
 * <p>
 * While a tracked task runs, its thread is marked, so that a {@code @Scheduled} run
 * inside it does not begin a second job for the same work.
 */
final class TrackedTask implements Runnable {

	private static final ThreadLocal<Boolean> RUNNING = new ThreadLocal<>();

	private final Runnable tracked;

	private final Object original;

	/**
	 * Creates the task.
	 * @param tracked the task, with its job
	 * @param original what was submitted, for {@link #toString()}: Spring names it in a
	 * rejection's message
	 */
	TrackedTask(Runnable tracked, Object original) {
		this.tracked = tracked;
		this.original = original;
	}

	@Override
	public void run() {
		runMarked(this.tracked);
	}

	/**
	 * Runs the task with its thread marked as running tracked work.
	 * @param task the task, which is a job already
	 */
	static void runMarked(Runnable task) {
		if (RUNNING.get() != null) {
			task.run();
			return;
		}
		RUNNING.set(Boolean.TRUE);
		try {
			task.run();
		}
		finally {
			RUNNING.remove();
		}
	}

	/**
	 * Returns whether the calling thread runs tracked work now.
	 * @return {@code true} inside a tracked task or a tracked scheduler run
	 */
	static boolean isRunning() {
		return RUNNING.get() != null;
	}

	@Override
	public String toString() {
		return String.valueOf(this.original);
	}

}
