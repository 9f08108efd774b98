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

	/**
	 * Leave the job failed, listed with its cause; the rest of the application carries
	 * on.
	 */
	STOP,

	/**
	 * Shut the whole application down, like Go's errgroup where the first error cancels
	 * the group: the failing job's thread starts the same graceful sequence a SIGTERM
	 * does. So the other jobs are not cut: the token is cancelled and they are told to
	 * stop; requests, messages and tracked work in flight finish within the deadline,
	 * and whatever is still running then is reported as a straggler. The process exits
	 * with status 1.
	 */
	SHUTDOWN

}
