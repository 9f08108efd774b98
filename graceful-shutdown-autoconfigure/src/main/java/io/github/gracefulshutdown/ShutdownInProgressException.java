package io.github.gracefulshutdown;

/**
 * Thrown when work is offered after it can no longer be awaited, or by
 * {@link ShutdownToken#throwIfShutdownRequested()} to unwind a job that should stop.
 * <p>
 * Work is either tracked and awaited, or refused with this exception at submission;
 * it is never silently dropped.
 */
public class ShutdownInProgressException extends IllegalStateException {

	private static final long serialVersionUID = 1L;

	/**
	 * Creates an exception with the given message.
	 * @param message what was refused and why
	 */
	public ShutdownInProgressException(String message) {
		super(message);
	}

}
