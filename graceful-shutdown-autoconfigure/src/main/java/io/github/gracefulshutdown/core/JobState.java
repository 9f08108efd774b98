package io.github.gracefulshutdown.core;

/**
 * Where a job is in its life. Asking a job to stop is not knowing it stopped: a job is
 * {@link #STOPPING} from the moment shutdown is requested until it actually returns.
 */
public enum JobState {

	/** Working, and shutdown has not been requested. */
	RUNNING,

	/** Shutdown has been requested and the job has not returned yet. */
	STOPPING,

	/** The job returned; only {@link JobKind#BACKGROUND} jobs stay listed in this state. */
	STOPPED,

	/** The job ended with an exception; only {@link JobKind#BACKGROUND} jobs stay listed. */
	FAILED

}
