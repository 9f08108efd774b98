package io.github.gracefulshutdown.metrics;

import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobKind;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.core.ShutdownState;
import io.github.gracefulshutdown.core.Units;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * Meters of graceful shutdown, every one registered when it is bound, so that all are
 * listed from startup rather than after the first shutdown:
 * <ul>
 * <li>{@code graceful.shutdown.requests.active}, {@code graceful.shutdown.messages.active},
 * {@code graceful.shutdown.calls.active}: requests, messages and gRPC calls in flight, one
 * gauge for each unit that a participant counts (a participant of your own named
 * {@code upload} gets {@code graceful.shutdown.uploads.active});</li>
 * <li>{@code graceful.shutdown.jobs.active}, tag {@code kind}: active jobs;</li>
 * <li>{@code graceful.shutdown.state}: the {@link ShutdownState}'s ordinal, 0 =
 * RUNNING, 1 = DRAIN_DELAY, 2 = DRAINING, 3 = COMPLETED, 4 = TIMED_OUT;</li>
 * <li>{@code graceful.shutdown.duration}, tag {@code outcome} ({@code completed} or
 * {@code timed_out}): how long the sequence took, recorded when it ends;</li>
 * <li>{@code graceful.shutdown.stragglers}: work still in flight at the deadline.</li>
 * </ul>
 * Runs and failures of each {@code @Background} job are an observation,
 * {@value #BACKGROUND_RUNS}, which Spring Boot turns into a timer with tags {@code job},
 * {@code outcome} and {@code error}; that timer is registered here as each job begins,
 * before its first run ends.
 */
public final class GracefulShutdownMetrics implements MeterBinder {

	/** The name of the observation of {@code @Background} runs, and of its timer. */
	public static final String BACKGROUND_RUNS = Units.BACKGROUND_RUNS;

	private final ShutdownCoordinator coordinator;

	private final DefaultJobRegistry registry;

	/**
	 * Creates the binder.
	 * @param coordinator the shutdown sequence
	 * @param registry the tracked jobs
	 */
	public GracefulShutdownMetrics(ShutdownCoordinator coordinator, DefaultJobRegistry registry) {
		this.coordinator = coordinator;
		this.registry = registry;
	}

	@Override
	public void bindTo(MeterRegistry meters) {
		// One gauge per counted unit: requests, messages, calls, and a user's own. Message
		// consumers and gRPC count once their containers and servers exist, and reactive
		// requests once Spring Boot has built the HttpHandler, which may be after the
		// meters are bound, so theirs are registered whenever they take part.
		Set<String> units = new LinkedHashSet<>(this.coordinator.inFlight().keySet());
		this.coordinator.participants()
			.stream()
			.map(ShutdownParticipant::name)
			.filter((name) -> name.equals(Units.REQUEST) || name.equals(Units.STREAM) || name.equals(Units.MESSAGE)
					|| name.equals(Units.CALL))
			.forEach(units::add);
		for (String unit : units) {
			if (!unit.equals(Units.JOB)) {
				// A unit of two words ("WebSocket session") makes a name of dotted words.
				String meterUnit = unit.toLowerCase(Locale.ROOT).replace(' ', '.');
				Gauge.builder("graceful.shutdown." + meterUnit + "s.active", this.coordinator,
						(coordinator) -> coordinator.inFlight().getOrDefault(unit, 0L))
					.description(capitalized(unit) + "s in flight")
					.baseUnit(meterUnit + "s")
					.register(meters);
			}
		}
		for (JobKind kind : JobKind.values()) {
			Gauge.builder("graceful.shutdown.jobs.active", this.registry, (registry) -> registry.activeCount(kind))
				.description("Tracked jobs that are running or stopping")
				.tag("kind", kind.name())
				.baseUnit("jobs")
				.register(meters);
		}
		Gauge.builder("graceful.shutdown.state", this.coordinator, (coordinator) -> coordinator.state().ordinal())
			.description("0 RUNNING, 1 DRAIN_DELAY, 2 DRAINING, 3 COMPLETED, 4 TIMED_OUT")
			.register(meters);
		Counter stragglers = Counter.builder("graceful.shutdown.stragglers")
			.description("Work still in flight at the shutdown deadline")
			.register(meters);
		Map<ShutdownState, Timer> durations = new EnumMap<>(ShutdownState.class);
		for (ShutdownState outcome : new ShutdownState[] { ShutdownState.COMPLETED, ShutdownState.TIMED_OUT }) {
			durations.put(outcome, Timer.builder("graceful.shutdown.duration")
				.description("How long the graceful shutdown sequence took")
				.tag("outcome", outcome.name().toLowerCase(Locale.ROOT))
				.register(meters));
		}
		this.coordinator.whenFinished().thenAccept((state) -> {
			Instant startedAt = this.coordinator.startedAt();
			Instant finishedAt = this.coordinator.finishedAt();
			Timer duration = durations.get(state);
			if (duration != null && startedAt != null && finishedAt != null) {
				duration.record(Duration.between(startedAt, finishedAt));
			}
			stragglers.increment(this.coordinator.stragglers().size());
		});
		// The tags Spring Boot's observation handler gives the timer, so the meters are the
		// same ones it records into; a failed run's error tag names its exception.
		this.registry.onBackgroundJob((job) -> {
			for (String outcome : new String[] { "returned", "stopped" }) {
				Timer.builder(BACKGROUND_RUNS)
					.tag("job", job)
					.tag("outcome", outcome)
					.tag("error", "none")
					.register(meters);
			}
		});
	}

	private static String capitalized(String unit) {
		return unit.isEmpty() ? unit : Character.toUpperCase(unit.charAt(0)) + unit.substring(1);
	}

}
