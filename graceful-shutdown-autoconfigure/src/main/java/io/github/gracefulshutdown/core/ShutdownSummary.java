package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.github.gracefulshutdown.ShutdownParticipant.InFlight;
import org.jspecify.annotations.Nullable;

/**
 * What one shutdown came to, as the verdict line says it, in figures: the outcome, how
 * long it took, what each participant drained, and what was abandoned.
 *
 * @param state {@link ShutdownState#COMPLETED} or {@link ShutdownState#TIMED_OUT}
 * @param startedAt when shutdown was requested
 * @param took from the request to the verdict, drain delay included
 * @param drained how many units each participant finished while the shutdown ran, by
 * participant name ({@link Units#REQUEST}, {@link Units#JOB}, ...), for those that count
 * @param stragglers what was still in flight at the deadline, oldest first per participant
 * @param stillRunning what was still running as the context finished closing (a bean still
 * stopping, a participant still holding work), each described as the verdict line says it
 */
public record ShutdownSummary(ShutdownState state, Instant startedAt, Duration took, Map<String, Long> drained,
		List<Straggler> stragglers, List<String> stillRunning) {

	/**
	 * Copies the collections, so that the summary never changes.
	 */
	public ShutdownSummary {
		// In participant order, as the verdict line lists them.
		drained = Collections.unmodifiableMap(new LinkedHashMap<>(drained));
		stragglers = List.copyOf(stragglers);
		stillRunning = List.copyOf(stillRunning);
	}

	/**
	 * Returns the verdict line: {@code Graceful shutdown COMPLETED in 3.47 s: 1 request
	 * drained, 5 jobs stopped, 0 stragglers}.
	 * @return the line the application logs last
	 */
	@Override
	public String toString() {
		return ShutdownReport.summary(this);
	}

	/**
	 * One unit of work still in flight at the deadline.
	 *
	 * @param participant the name of the participant that held it, such as {@code "job"}
	 * @param description what it was, such as {@code "GET /slow"}
	 * @param startedAt when it began
	 * @param age how long it had run at the deadline
	 * @param thread the name of the thread working on it, or {@code null} if none was
	 */
	public record Straggler(String participant, String description, Instant startedAt, Duration age,
			@Nullable String thread) {

		static Straggler of(String participant, InFlight inFlight, Instant deadline) {
			Thread thread = inFlight.thread();
			return new Straggler(participant, inFlight.description(), inFlight.startedAt(),
					Duration.between(inFlight.startedAt(), deadline), (thread != null) ? thread.getName() : null);
		}

	}

}
