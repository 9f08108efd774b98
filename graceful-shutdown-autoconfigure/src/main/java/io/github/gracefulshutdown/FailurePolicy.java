package io.github.gracefulshutdown;

/**
 * What happens when a {@link Background @Background} method throws. Whatever the policy,
 * the failure is logged with the job's name, and a job is never restarted once shutdown
 * has begun.
 */
public enum FailurePolicy {

	/**
	 * Start the method again after a capped exponential backoff
	 * ({@code graceful-shutdown.restart-backoff.*}). The backoff sleeps on the token, so
	 * shutdown ends it at once.
	 */
	RESTART,

	/** Leave the job {@link JobState#FAILED}; the rest of the application carries on. */
	STOP,

	/**
	 * Shut the whole application down gracefully, like Go's errgroup where the first
	 * error cancels the group. The process exits with status 1.
	 */
	SHUTDOWN

}
