package io.github.gracefulshutdown.actuate;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobInfo;
import io.github.gracefulshutdown.core.JobKind;
import io.github.gracefulshutdown.core.JobState;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.core.ShutdownState;
import io.github.gracefulshutdown.core.ShutdownSummary;
import io.github.gracefulshutdown.core.Units;
import org.jspecify.annotations.Nullable;

import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;

/**
 * {@code /actuator/shutdown-status}: what a shutting-down application is waiting for.
 * <p>
 * While the application runs it shows {@code RUNNING} and the live jobs with their
 * progress; during shutdown, {@code DRAIN_DELAY} then {@code DRAINING} with the deadline,
 * the time left and what is in flight; at the end, {@code COMPLETED} or
 * {@code TIMED_OUT} and the stragglers by name and age. Stack traces go to the log only.
 * <p>
 * The answer stays bounded however many jobs run: jobs are counted by kind and grouped
 * by name and kind, and only the oldest {@value #DETAIL_LIMIT} are listed one by one.
 */
@Endpoint(id = ShutdownStatusEndpoint.ID)
public class ShutdownStatusEndpoint {

	/**
	 * The endpoint's id. Spring Boot warns about a {@code -} in an id, so the id is
	 * camel case and the starter maps it to the path {@value #PATH}.
	 */
	public static final String ID = "shutdownStatus";

	/** The endpoint's path under the actuator base path, unless the user maps it. */
	public static final String PATH = "shutdown-status";

	/** How many jobs, oldest first, are listed one by one. */
	public static final int DETAIL_LIMIT = 50;

	/** How many groups of jobs, largest first, are listed. */
	public static final int GROUP_LIMIT = 50;

	private final ShutdownCoordinator coordinator;

	private final DefaultJobRegistry registry;

	/**
	 * Creates the endpoint.
	 * @param coordinator the shutdown sequence
	 * @param registry the tracked jobs
	 */
	public ShutdownStatusEndpoint(ShutdownCoordinator coordinator, DefaultJobRegistry registry) {
		this.coordinator = coordinator;
		this.registry = registry;
	}

	/**
	 * Describes the shutdown as it is now.
	 * @return the status
	 */
	@ReadOperation
	public ShutdownStatus status() {
		Instant now = Instant.now();
		ShutdownState state = this.coordinator.state();
		Instant startedAt = this.coordinator.startedAt();
		Instant finishedAt = this.coordinator.finishedAt();
		Instant deadline = this.coordinator.deadline();
		Duration elapsed = (startedAt != null) ? Duration.between(startedAt, (finishedAt != null) ? finishedAt : now)
				: null;
		Duration timeLeft = (deadline != null && finishedAt == null) ? positive(Duration.between(now, deadline))
				: null;
		Map<String, Long> inFlight = this.coordinator.inFlight();

		List<JobInfo> jobs = this.registry.jobs();
		Map<JobKind, Long> byKind = new EnumMap<>(JobKind.class);
		Map<GroupKey, Long> groups = new HashMap<>();
		int active = 0;
		for (JobInfo job : jobs) {
			if (job.state() == JobState.RUNNING || job.state() == JobState.STOPPING) {
				active++;
				byKind.merge(job.kind(), 1L, Long::sum);
			}
			groups.merge(new GroupKey(job.name(), job.kind()), 1L, Long::sum);
		}
		List<JobGroup> largestGroups = groups.entrySet()
			.stream()
			.sorted(Map.Entry.<GroupKey, Long>comparingByValue().reversed()
				.thenComparing((entry) -> entry.getKey().name()))
			.limit(GROUP_LIMIT)
			.map((entry) -> new JobGroup(entry.getKey().name(), entry.getKey().kind(), entry.getValue()))
			.toList();
		List<Job> oldest = jobs.stream().limit(DETAIL_LIMIT).map(ShutdownStatusEndpoint::describe).toList();

		List<Straggler> stragglers = new ArrayList<>();
		for (ShutdownSummary.Straggler straggler : this.coordinator.stragglers()) {
			Instant end = (finishedAt != null) ? finishedAt : now;
			stragglers.add(new Straggler(straggler.description(),
					Duration.between(straggler.startedAt(), end).toString()));
		}
		return new ShutdownStatus(state, string(startedAt), string(elapsed), string(deadline), string(timeLeft),
				inFlight.get(Units.REQUEST), inFlight, inFlightWork(now), active, jobs.size(), byKind, largestGroups,
				oldest, stragglers);
	}

	/**
	 * What each participant but the registry (whose jobs are listed on their own) has in
	 * flight, by unit, the oldest {@value #DETAIL_LIMIT} of each: each message with its
	 * container and queue, each call with its method.
	 */
	private Map<String, List<Work>> inFlightWork(Instant now) {
		Map<String, List<Work>> work = new LinkedHashMap<>();
		for (ShutdownParticipant participant : this.coordinator.participants()) {
			if (participant == this.registry) {
				continue;
			}
			List<Work> units = work.computeIfAbsent(participant.name(), (name) -> new ArrayList<>());
			for (ShutdownParticipant.InFlight unit : participant.inFlight()) {
				if (units.size() == DETAIL_LIMIT) {
					break;
				}
				units.add(new Work(unit.description(), unit.startedAt().toString(),
						positive(Duration.between(unit.startedAt(), now)).toString()));
			}
		}
		return work;
	}

	private static Job describe(JobInfo job) {
		JobInfo.Progress progress = job.progress();
		@Nullable Progress described = null;
		if (progress != null) {
			boolean counted = progress.message() == null;
			described = new Progress(counted ? progress.done() : null, counted ? progress.total() : null,
					(progress.percent() >= 0) ? progress.percent() : null, progress.message());
		}
		return new Job(job.name(), job.kind(), job.state(), job.startedAt().toString(), described, job.failure());
	}

	private static Duration positive(Duration duration) {
		return duration.isNegative() ? Duration.ZERO : duration;
	}

	private static @Nullable String string(@Nullable Object value) {
		return (value != null) ? value.toString() : null;
	}

	private record GroupKey(String name, JobKind kind) {
	}

	/**
	 * The endpoint's answer. Instants are ISO-8601 strings, durations ISO-8601 durations.
	 *
	 * @param state where the shutdown is
	 * @param startedAt when shutdown was requested, or {@code null} while running
	 * @param elapsed how long shutdown has taken so far, or took
	 * @param deadline when the budget for draining runs out, once draining
	 * @param timeLeft how much of it is left, while draining
	 * @param inFlightRequests requests in flight, or {@code null} without a counted web server
	 * @param inFlight units in flight by participant
	 * @param inFlightWork the oldest units in flight of each participant but the job
	 * registry, at most {@value #DETAIL_LIMIT} each, by unit
	 * @param activeJobs how many jobs are running or stopping
	 * @param jobCount how many jobs are listed in all (active, and ended background jobs)
	 * @param activeJobsByKind active jobs by kind
	 * @param jobGroups jobs grouped by name and kind, largest groups first, at most
	 * {@value #GROUP_LIMIT}
	 * @param jobs the oldest jobs, at most {@value #DETAIL_LIMIT}
	 * @param stragglers what was still in flight at the deadline
	 */
	public record ShutdownStatus(ShutdownState state, @Nullable String startedAt, @Nullable String elapsed,
			@Nullable String deadline, @Nullable String timeLeft, @Nullable Long inFlightRequests, Map<String, Long> inFlight,
			Map<String, List<Work>> inFlightWork, int activeJobs, int jobCount,
			Map<JobKind, Long> activeJobsByKind, List<JobGroup> jobGroups, List<Job> jobs,
			List<Straggler> stragglers) {
	}

	/**
	 * One job.
	 *
	 * @param name its name
	 * @param kind where it came from
	 * @param state where it is in its life
	 * @param startedAt when it began
	 * @param progress its last reported progress, or {@code null}
	 * @param failure what a failed job ended with, or {@code null}
	 */
	public record Job(String name, JobKind kind, JobState state, String startedAt, @Nullable Progress progress,
			@Nullable String failure) {
	}

	/**
	 * Reported progress: counts with a percentage, or a message.
	 *
	 * @param done units done
	 * @param total units in all
	 * @param percent the share done
	 * @param message free text
	 */
	public record Progress(@Nullable Long done, @Nullable Long total, @Nullable Integer percent,
			@Nullable String message) {
	}

	/**
	 * Jobs that share a name and a kind.
	 *
	 * @param name the name
	 * @param kind the kind
	 * @param count how many
	 */
	public record JobGroup(String name, JobKind kind, long count) {
	}

	/**
	 * One unit in flight: a request, a message, a call.
	 *
	 * @param description what it is, such as {@code GET /orders} or the message's
	 * container and queue
	 * @param startedAt when it began
	 * @param age how long it has run
	 */
	public record Work(String description, String startedAt, String age) {
	}

	/**
	 * Work still in flight at the deadline.
	 *
	 * @param name what it was, such as {@code BACKGROUND job 'sync'} or {@code GET /events}
	 * @param age how long it had run when the sequence ended
	 */
	public record Straggler(String name, String age) {
	}


}
