package io.github.gracefulshutdown;

import java.time.Instant;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletionStage;

import org.jspecify.annotations.Nullable;

/**
 * Something the shutdown sequence drains within its one deadline: the web server, the
 * job registry, and a server or resource of your own. Every bean of this type takes
 * part; its shape follows Micronaut's {@code GracefulShutdownCapable}.
 * <p>
 * The sequence calls {@link #drain()} once, when draining starts, on every participant
 * at the same time (as the shutdown starts, before the drain delay, for those whose
 * {@link #drainsAtShutdownStart()} says so), and waits for all the stages it returns. Until they complete it
 * reads {@link #inFlightCount()} and {@link #inFlight()} for its progress log and the
 * status endpoint. If the deadline passes before every participant has drained, it
 * calls {@link #deadlinePassed()} once on each, reports what they return as stragglers,
 * and interrupts their threads when {@code graceful-shutdown.interrupt-stragglers} is
 * on.
 * <pre>{@code
 * @Component
 * class ExportServer implements ShutdownParticipant {
 *     public String name() { return "export"; }
 *     public CompletionStage<?> drain() { server.stopAccepting(); return server.whenIdle(); }
 *     public List<InFlight> inFlight() { return server.sessions().stream().map(Session::inFlight).toList(); }
 * }
 * }</pre>
 */
public interface ShutdownParticipant {

	/**
	 * Names one unit of what this participant drains, for log lines such as
	 * {@code "draining: 3 requests, 2 jobs"}; an {@code s} is added for the plural.
	 * Participants with the same name are counted together.
	 * @return a singular noun, like {@code "request"}
	 */
	String name();

	/**
	 * Stops taking new work and returns at once. Must not block.
	 * @return a stage that completes when the last unit in flight has ended, on that end
	 * rather than by polling
	 */
	CompletionStage<?> drain();

	/**
	 * Says whether {@link #drain()} is called as soon as the shutdown starts, before the
	 * drain delay, rather than when draining starts after it. A message consumer says
	 * yes: no load balancer routes messages away from it, so every message it fetches
	 * during the delay is one more to finish before the deadline. A server that clients
	 * reach through a load balancer says no, and keeps serving during the delay.
	 * @return {@code true} to stop taking new work at once; {@code false} by default
	 */
	default boolean drainsAtShutdownStart() {
		return false;
	}

	/**
	 * Returns how many units are in flight now, if this participant counts them.
	 * @return the count, or empty if it does not count (then it is drained, but the log
	 * and the summary claim no figure for it)
	 */
	default OptionalLong inFlightCount() {
		return OptionalLong.empty();
	}

	/**
	 * Returns how many units have completed since the application started, if this
	 * participant counts them, so that the summary can say how many were drained.
	 * @return a count that only grows, or empty if it does not count
	 */
	default OptionalLong completedCount() {
		return OptionalLong.empty();
	}

	/**
	 * Returns the work in flight now, oldest first.
	 * @return a snapshot
	 */
	List<InFlight> inFlight();

	/**
	 * Told, once, that the deadline has passed with the shutdown not yet drained: refuse
	 * anything new, end what can be ended (for example, complete long-lived streams), and
	 * say what was still in flight. A participant that had drained returns nothing. Must
	 * not block for long.
	 * @return what was in flight at the deadline, oldest first, listed before it is ended
	 */
	default List<InFlight> deadlinePassed() {
		return inFlight();
	}

	/**
	 * One unit of work in flight.
	 *
	 * @param description what it is, such as {@code "GET /orders"}
	 * @param startedAt when it began
	 * @param thread the thread working on it, whose stack the deadline report logs, or
	 * {@code null} when no thread is
	 */
	record InFlight(String description, Instant startedAt, @Nullable Thread thread) {
	}

}
