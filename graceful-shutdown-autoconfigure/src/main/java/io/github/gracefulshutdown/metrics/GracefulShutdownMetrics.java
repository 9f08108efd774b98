package io.github.gracefulshutdown.metrics;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;

import io.github.gracefulshutdown.JobKind;
import io.github.gracefulshutdown.JobRegistry;
import io.github.gracefulshutdown.ShutdownCoordinator;
import io.github.gracefulshutdown.ShutdownState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * Meters of graceful shutdown:
 * <ul>
 * <li>{@code graceful.shutdown.requests.active}: requests in flight (with a counted web
 * server);</li>
 * <li>{@code graceful.shutdown.jobs.active}, tag {@code kind}: active jobs;</li>
 * <li>{@code graceful.shutdown.state}: the {@link ShutdownState}'s ordinal, 0 =
 * RUNNING, 1 = DRAIN_DELAY, 2 = DRAINING, 3 = COMPLETED, 4 = TIMED_OUT;</li>
 * <li>{@code graceful.shutdown.duration}, tag {@code outcome} ({@code completed} or
 * {@code timed_out}): how long the sequence took, recorded when it ends;</li>
 * <li>{@code graceful.shutdown.stragglers}: work still in flight at the deadline.</li>
 * </ul>
 * Runs and failures of each {@code @Background} job are an observation,
 * {@code graceful.shutdown.background.runs}, which Spring Boot turns into a timer with
 * tags {@code job} and {@code outcome}.
 */
public final class GracefulShutdownMetrics implements MeterBinder {

	private final ShutdownCoordinator coordinator;

	private final JobRegistry registry;

	/**
	 * Creates the binder.
	 * @param coordinator the shutdown sequence
	 * @param registry the tracked jobs
	 */
	public GracefulShutdownMetrics(ShutdownCoordinator coordinator, JobRegistry registry) {
		this.coordinator = coordinator;
		this.registry = registry;
	}

	@Override
	public void bindTo(MeterRegistry meters) {
		if (this.coordinator.inFlight().containsKey("request")) {
			Gauge.builder("graceful.shutdown.requests.active", this.coordinator,
					(coordinator) -> coordinator.inFlight().getOrDefault("request", 0L))
				.description("Requests in flight")
				.baseUnit("requests")
				.register(meters);
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
		this.coordinator.whenFinished().thenAccept((state) -> {
			Instant startedAt = this.coordinator.startedAt();
			Instant finishedAt = this.coordinator.finishedAt();
			if (startedAt != null && finishedAt != null) {
				Timer.builder("graceful.shutdown.duration")
					.description("How long the graceful shutdown sequence took")
					.tag("outcome", state.name().toLowerCase(Locale.ROOT))
					.register(meters)
					.record(Duration.between(startedAt, finishedAt));
			}
			stragglers.increment(this.coordinator.stragglers().size());
		});
	}

}
