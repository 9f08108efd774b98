package io.github.gracefulshutdown;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Something besides the {@link JobRegistry} that the shutdown coordinator drains within
 * the one deadline, such as the web server. Any bean of this type takes part.
 * <p>
 * The coordinator calls {@link #drain()} once, right after cancelling the token, and
 * waits for the stage it returns together with the registry. If the deadline passes
 * first, the participant's {@link #inFlight()} work is reported as stragglers and
 * {@link #abandon()} is called.
 */
public interface ShutdownParticipant {

	/**
	 * Names one unit of what this participant drains, for log lines such as
	 * {@code "draining: 3 requests, 2 jobs"}; an {@code s} is added for the plural.
	 * @return a singular noun, like {@code "request"}
	 */
	String name();

	/**
	 * Stops taking new work and returns at once.
	 * @return a stage that completes when nothing is in flight any more
	 */
	CompletionStage<?> drain();

	/**
	 * Returns the work in flight now, oldest first.
	 * @return a snapshot
	 */
	List<InFlight> inFlight();

	/**
	 * Returns how many units are in flight now; cheaper than {@link #inFlight()} where
	 * the participant keeps a count.
	 * @return the count
	 */
	default long inFlightCount() {
		return inFlight().size();
	}

	/**
	 * Returns how many units have finished since the application started, so that the
	 * coordinator can say how many it drained.
	 * @return a count that only grows, or -1 if this participant does not count its units
	 */
	long finishedCount();

	/**
	 * Ends what is still in flight at the deadline. Must not block for long.
	 */
	void abandon();

	/**
	 * One unit of work in flight.
	 *
	 * @param description what it is, such as {@code "GET /orders"}
	 * @param startedAt when it began
	 * @param thread the thread working on it, whose stack the deadline report logs, or
	 * {@code null} when no thread is
	 */
	record InFlight(String description, Instant startedAt, Thread thread) {
	}

}
