package io.github.gracefulshutdown.core;

import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.JobRegistry;

/**
 * Where a unit of tracked work came from.
 */
public enum JobKind {

	/** A long-lived {@link Background @Background} method, told to stop by the token. */
	BACKGROUND,

	/** Work begun through {@link JobRegistry#begin(String)} or its conveniences. */
	TRACKED,

	/** A task submitted to an executor bean ({@code @Async} included), whoever built it. */
	ASYNC,

	/** A {@code @Scheduled} execution, or a delayed or periodic run on a scheduler bean. */
	SCHEDULED

}
