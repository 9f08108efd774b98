package io.github.gracefulshutdown.core;

/**
 * Where the shutdown sequence is.
 */
public enum ShutdownState {

	/** The application runs; shutdown has not been requested. */
	RUNNING,

	/** Readiness is REFUSING_TRAFFIC but requests are still served, for {@code drain-delay}. */
	DRAIN_DELAY,

	/** The token is cancelled and in-flight work is awaited within the deadline. */
	DRAINING,

	/** Everything tracked finished before the deadline. */
	COMPLETED,

	/** The deadline passed with work still in flight; it was reported and abandoned. */
	TIMED_OUT

}
