package io.github.gracefulshutdown.core;

/**
 * Names that two packages share, defined once here rather than by either: the
 * participants that the endpoint and the meters single out, and the observation that
 * the background jobs make and the meters register ahead.
 */
public final class Units {

	/** What the web server drains. */
	public static final String REQUEST = "request";

	/** What Spring MVC's response streams (SSE, emitters) are, ended at drain start. */
	public static final String STREAM = "stream";

	/** What a message listener container drains: one delivery, record or batch. */
	public static final String MESSAGE = "message";

	/** What the gRPC server drains. */
	public static final String CALL = "call";

	/** What the job registry drains. */
	public static final String JOB = "job";

	/**
	 * The observation of each run of a {@code @Background} method, and the timer Spring
	 * Boot makes of it.
	 */
	public static final String BACKGROUND_RUNS = "graceful.shutdown.background.runs";

	private Units() {
	}

}
