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

	/** An {@code @Async} execution on Spring Boot's auto-configured executor. */
	ASYNC,

	/** A {@code @Scheduled} execution on Spring Boot's auto-configured scheduler. */
	SCHEDULED

}
