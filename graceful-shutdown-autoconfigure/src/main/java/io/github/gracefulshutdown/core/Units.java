package io.github.gracefulshutdown.core;

/**
 * The names of the participants that the endpoint and the meters single out, defined
 * once here rather than by the package that implements each participant.
 */
public final class Units {

	/** What the web server drains. */
	public static final String REQUEST = "request";

	/** What the job registry drains. */
	public static final String JOB = "job";

	private Units() {
	}

}
