package io.github.gracefulshutdown;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationContextAware;
import org.springframework.context.SmartLifecycle;

/**
 * The shutdown sequence, top to bottom. Everything that happens between SIGTERM and the
 * destruction of beans is in {@link #shutDown()}.
 * <p>
 * It is a {@link SmartLifecycle} in phase {@link #PHASE}, so the context stops it before
 * Spring Boot's own web-server graceful shutdown (MAX - 1024) and before a separate
 * management server closes (MAX - 1536). {@link #stop(Runnable)} returns at once and
 * runs the sequence on a thread named {@code graceful-shutdown}; the context then waits
 * for that thread's callback, for at most {@link #phaseTimeout()}, so later phases and
 * bean destruction only run once the sequence has ended and finishing jobs still have
 * their data sources, producers and caches.
 */
public final class ShutdownCoordinator implements SmartLifecycle, ApplicationContextAware {

	/**
	 * The lifecycle phase: after beans in the default phase have stopped and before
	 * Spring Boot's web server shuts down gracefully.
	 */
	public static final int PHASE = Integer.MAX_VALUE - 512;

	// How many stragglers the deadline report describes one by one, with their stacks.
	private static final int REPORT_LIMIT = 50;

	// Room for the deadline report and the summary after the deadline itself.
	private static final Duration REPORT_MARGIN = Duration.ofSeconds(5);

	private static final Log logger = LogFactory.getLog(ShutdownCoordinator.class);

	private final ShutdownToken token;

	private final JobRegistry registry;

	private final List<ShutdownParticipant> participants;

	private final Duration drainDelay;

	private final Duration timeout;

	private final Duration progressLogInterval;

	private final boolean interruptStragglers;

	private final AtomicBoolean running = new AtomicBoolean();

	private final CompletableFuture<ShutdownState> finished = new CompletableFuture<>();

	private volatile ApplicationContext context;

	private volatile ShutdownState state = ShutdownState.RUNNING;

	private volatile Instant startedAt;

	private volatile Instant deadline;

	private volatile Instant finishedAt;

	private volatile List<ShutdownParticipant.InFlight> stragglers = List.of();

	/**
	 * Creates a coordinator.
	 * @param token the token to cancel when draining starts
	 * @param registry the jobs to await
	 * @param participants whatever else to drain, such as the web server
	 * @param drainDelay how long to keep serving after readiness flips, before draining
	 * @param timeout the one deadline for draining everything
	 * @param progressLogInterval how often to log what is still in flight
	 * @param interruptStragglers whether to interrupt the threads of jobs still running at
	 * the deadline
	 */
	public ShutdownCoordinator(ShutdownToken token, JobRegistry registry, List<ShutdownParticipant> participants,
			Duration drainDelay, Duration timeout, Duration progressLogInterval, boolean interruptStragglers) {
		this.token = Objects.requireNonNull(token, "token must not be null");
		this.registry = Objects.requireNonNull(registry, "registry must not be null");
		this.participants = List.copyOf(participants);
		this.drainDelay = requirePositiveOrZero(drainDelay, "drainDelay");
		this.timeout = requirePositive(timeout, "timeout");
		this.progressLogInterval = requirePositive(progressLogInterval, "progressLogInterval");
		this.interruptStragglers = interruptStragglers;
	}

	// ---- The sequence -------------------------------------------------------------

	private void shutDown() {
		long startNanos = System.nanoTime();
		this.startedAt = Instant.now();
		refuseTraffic();

		if (!this.drainDelay.isZero()) {
			this.state = ShutdownState.DRAIN_DELAY;
			logger.info("Shutdown requested: still serving for drain-delay " + format(this.drainDelay)
					+ " while load balancers stop routing here");
			sleep(this.drainDelay);
		}

		// One budget for everything from here, not one per phase.
		long deadlineNanos = System.nanoTime() + this.timeout.toNanos();
		this.deadline = Instant.now().plus(this.timeout);
		long jobsEndedBefore = this.registry.endedCount();
		List<Long> finishedBefore = this.participants.stream().map(ShutdownParticipant::finishedCount).toList();
		logger.info("Draining " + inFlightSummary() + " within " + format(this.timeout));

		// Cancelled first, so nobody reads DRAINING while jobs still say RUNNING.
		this.token.cancel(this.deadline);
		this.state = ShutdownState.DRAINING;
		List<CompletableFuture<?>> drains = new ArrayList<>();
		for (ShutdownParticipant participant : this.participants) {
			drains.add(startDrain(participant));
		}
		boolean drained = awaitDrained(drains, deadlineNanos);

		// Counted before anything is abandoned: what was drained, not what was cut.
		StringBuilder summary = new StringBuilder();
		for (int i = 0; i < this.participants.size(); i++) {
			ShutdownParticipant participant = this.participants.get(i);
			long finished = participant.finishedCount();
			if (finished >= 0) {
				summary.append(count(finished - finishedBefore.get(i), participant.name())).append(" drained, ");
			}
		}
		summary.append(count(this.registry.endedCount() - jobsEndedBefore, "job")).append(" stopped, ");

		if (drained) {
			this.registry.refuseNewJobs("the application has shut down");
			this.state = ShutdownState.COMPLETED;
		}
		else {
			this.registry.refuseNewJobs("the shutdown deadline has passed");
			List<ShutdownParticipant.InFlight> left = collectStragglers();
			this.stragglers = left;
			reportStragglers(left);
			this.participants.forEach(this::abandon);
			this.state = ShutdownState.TIMED_OUT;
		}

		Duration took = Duration.ofNanos(System.nanoTime() - startNanos);
		this.finishedAt = this.startedAt.plus(took);
		summary.insert(0, "Graceful shutdown " + this.state + " in " + format(took) + ": ");
		summary.append(count(this.stragglers.size(), "straggler"));
		if (!this.stragglers.isEmpty()) {
			summary.append(" (").append(byName(this.stragglers)).append(')');
		}
		if (this.state == ShutdownState.COMPLETED) {
			logger.info(summary);
		}
		else {
			logger.warn(summary);
		}
	}

	/**
	 * Waits for every participant and the registry, waking on the last completion and
	 * every {@code progressLogInterval} to log what is left. Work begun while draining
	 * (a request handing off to {@code @Async}) is awaited too: the registry must be
	 * empty once the participants are done.
	 */
	private boolean awaitDrained(List<CompletableFuture<?>> drains, long deadlineNanos) {
		CompletableFuture<Void> participantsDrained = CompletableFuture.allOf(drains.toArray(CompletableFuture[]::new));
		do {
			if (!await(CompletableFuture.allOf(participantsDrained, this.registry.whenEmpty()), deadlineNanos)) {
				return false;
			}
		}
		while (this.registry.activeCount() > 0);
		return true;
	}

	private boolean await(CompletableFuture<?> done, long deadlineNanos) {
		long intervalNanos = this.progressLogInterval.toNanos();
		while (true) {
			long leftNanos = deadlineNanos - System.nanoTime();
			if (leftNanos <= 0) {
				return done.isDone();
			}
			try {
				done.get(Math.min(leftNanos, intervalNanos), TimeUnit.NANOSECONDS);
				return true;
			}
			catch (TimeoutException ex) {
				if (!done.isDone() && deadlineNanos - System.nanoTime() > 0) {
					logger.info("draining: " + inFlightSummary() + ", " + String.format(Locale.ROOT, "%.1f s left",
							(deadlineNanos - System.nanoTime()) / 1e9));
				}
			}
			catch (ExecutionException ex) {
				// Neither the participants' stages (see startDrain) nor the registry's fail.
				throw new IllegalStateException(ex.getCause());
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
				return false;
			}
		}
	}

	private void reportStragglers(List<ShutdownParticipant.InFlight> left) {
		long now = System.currentTimeMillis();
		StringBuilder report = new StringBuilder("Shutdown deadline of ").append(format(this.timeout))
			.append(" passed with ")
			.append(count(left.size(), "straggler"))
			.append(this.interruptStragglers ? "; interrupting their threads" : "")
			.append(':');
		// Bounded: ten thousand stacks would bury the log and delay the exit.
		for (ShutdownParticipant.InFlight straggler : left.subList(0, Math.min(left.size(), REPORT_LIMIT))) {
			report.append("\n  ")
				.append(straggler.description())
				.append(", running for ")
				.append(format(Duration.ofMillis(now - straggler.startedAt().toEpochMilli())));
			Thread thread = straggler.thread();
			if (thread == null) {
				report.append(", on no thread (queued, or waiting asynchronously)");
				continue;
			}
			report.append(", on thread ").append(thread.getName());
			for (StackTraceElement frame : thread.getStackTrace()) {
				report.append("\n      at ").append(frame);
			}
		}
		if (left.size() > REPORT_LIMIT) {
			report.append("\n  ... and ").append(left.size() - REPORT_LIMIT).append(" more: ").append(byName(left));
		}
		logger.warn(report);
		if (this.interruptStragglers) {
			for (JobRegistry.Handle job : this.registry.activeJobs()) {
				Thread thread = job.thread();
				if (thread != null) {
					thread.interrupt();
				}
			}
		}
	}

	// ---- Pieces of the sequence ---------------------------------------------------

	private void refuseTraffic() {
		// Spring Boot publishes this itself only in contexts that run a web server.
		ApplicationContext context = this.context;
		if (context == null) {
			return;
		}
		ApplicationAvailability availability = context.getBeanProvider(ApplicationAvailability.class).getIfAvailable();
		if (availability != null && availability.getReadinessState() != ReadinessState.REFUSING_TRAFFIC) {
			AvailabilityChangeEvent.publish(context, ReadinessState.REFUSING_TRAFFIC);
		}
	}

	private CompletableFuture<?> startDrain(ShutdownParticipant participant) {
		try {
			// A participant that fails has nothing more to wait for: its failure is logged
			// and counts as drained, so the wait never ends on an exception.
			return participant.drain().toCompletableFuture().exceptionally((ex) -> {
				logger.error("Shutdown participant '" + participant.name() + "' failed while draining", ex);
				return null;
			});
		}
		catch (RuntimeException ex) {
			logger.error("Shutdown participant '" + participant.name() + "' failed to start draining", ex);
			return CompletableFuture.completedFuture(null);
		}
	}

	private void abandon(ShutdownParticipant participant) {
		try {
			participant.abandon();
		}
		catch (RuntimeException ex) {
			logger.error("Shutdown participant '" + participant.name() + "' failed to abandon its work", ex);
		}
	}

	private List<ShutdownParticipant.InFlight> collectStragglers() {
		List<ShutdownParticipant.InFlight> left = new ArrayList<>();
		for (JobRegistry.Handle job : this.registry.activeJobs()) {
			left.add(new ShutdownParticipant.InFlight(job.toString(), job.startedAt(), job.thread()));
		}
		for (ShutdownParticipant participant : this.participants) {
			left.addAll(participant.inFlight());
		}
		return List.copyOf(left);
	}

	private String inFlightSummary() {
		StringBuilder summary = new StringBuilder();
		for (ShutdownParticipant participant : this.participants) {
			if (participant.finishedCount() >= 0) {
				summary.append(count(participant.inFlightCount(), participant.name())).append(", ");
			}
		}
		List<JobInfo> jobs = this.registry.jobs()
			.stream()
			.filter((job) -> job.state() == JobState.RUNNING || job.state() == JobState.STOPPING)
			.toList();
		summary.append(count(jobs.size(), "job"));
		if (!jobs.isEmpty()) {
			summary.append(jobs.stream()
				.limit(5)
				.map((job) -> job.name() + ((job.progress() != null) ? " " + job.progress() : ""))
				.collect(Collectors.joining(", ", " (", (jobs.size() > 5) ? ", ...)" : ")")));
		}
		return summary.toString();
	}

	private static void sleep(Duration duration) {
		try {
			Thread.sleep(duration.toMillis());
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	/**
	 * Names stragglers compactly: {@code GET /events, TRACKED job 'import' x9998}, the
	 * largest groups first, at most ten of them.
	 */
	private static String byName(List<ShutdownParticipant.InFlight> stragglers) {
		Map<String, Long> counts = stragglers.stream()
			.collect(Collectors.groupingBy(ShutdownParticipant.InFlight::description, LinkedHashMap::new,
					Collectors.counting()));
		String named = counts.entrySet()
			.stream()
			.sorted(Map.Entry.<String, Long>comparingByValue().reversed())
			.limit(10)
			.map((entry) -> entry.getKey() + ((entry.getValue() > 1) ? " x" + entry.getValue() : ""))
			.collect(Collectors.joining(", "));
		return (counts.size() > 10) ? named + ", ..." : named;
	}

	private static String count(long n, String noun) {
		return n + " " + noun + ((n == 1) ? "" : "s");
	}

	static String format(Duration duration) {
		return String.format(Locale.ROOT, "%.2f s", duration.toNanos() / 1e9);
	}

	private static Duration requirePositive(Duration duration, String name) {
		Objects.requireNonNull(duration, name + " must not be null");
		if (duration.isNegative() || duration.isZero()) {
			throw new IllegalArgumentException(name + " must be positive but was " + duration);
		}
		return duration;
	}

	private static Duration requirePositiveOrZero(Duration duration, String name) {
		Objects.requireNonNull(duration, name + " must not be null");
		if (duration.isNegative()) {
			throw new IllegalArgumentException(name + " must not be negative but was " + duration);
		}
		return duration;
	}

	// ---- What others read ---------------------------------------------------------

	/**
	 * Returns where the sequence is.
	 * @return the state
	 */
	public ShutdownState state() {
		return this.state;
	}

	/**
	 * Returns when shutdown was requested.
	 * @return the instant, or {@code null} while running
	 */
	public Instant startedAt() {
		return this.startedAt;
	}

	/**
	 * Returns when the budget for draining runs out.
	 * @return the instant, or {@code null} before draining starts
	 */
	public Instant deadline() {
		return this.deadline;
	}

	/**
	 * Returns when the sequence ended.
	 * @return the instant, or {@code null} until it has ended
	 */
	public Instant finishedAt() {
		return this.finishedAt;
	}

	/**
	 * Returns how much is in flight now for each participant that counts its units, by
	 * the participant's name (such as {@code "request"}).
	 * @return the counts, in participant order
	 */
	public Map<String, Long> inFlight() {
		Map<String, Long> inFlight = new LinkedHashMap<>();
		for (ShutdownParticipant participant : this.participants) {
			if (participant.finishedCount() >= 0) {
				inFlight.merge(participant.name(), participant.inFlightCount(), Long::sum);
			}
		}
		return inFlight;
	}

	/**
	 * Returns what was still in flight at the deadline.
	 * @return the stragglers, empty unless the state is {@link ShutdownState#TIMED_OUT}
	 */
	public List<ShutdownParticipant.InFlight> stragglers() {
		return this.stragglers;
	}

	/**
	 * Returns a future that completes with the final state when the sequence ends.
	 * @return the future
	 */
	public CompletableFuture<ShutdownState> whenFinished() {
		return this.finished.copy();
	}

	/**
	 * Returns how long the context must wait for this coordinator's phase: the drain
	 * delay, the deadline, and a margin for the report.
	 * @return the phase timeout
	 */
	public Duration phaseTimeout() {
		return this.drainDelay.plus(this.timeout).plus(REPORT_MARGIN);
	}

	// ---- SmartLifecycle -----------------------------------------------------------

	@Override
	public void setApplicationContext(ApplicationContext context) {
		this.context = context;
	}

	@Override
	public void start() {
		this.running.set(true);
	}

	@Override
	public void stop(Runnable callback) {
		if (!this.running.compareAndSet(true, false)) {
			callback.run();
			return;
		}
		Thread thread = new Thread(() -> {
			try {
				shutDown();
			}
			catch (RuntimeException | Error ex) {
				logger.error("Graceful shutdown failed", ex);
			}
			finally {
				this.finished.complete(this.state);
				callback.run();
			}
		}, "graceful-shutdown");
		thread.start();
	}

	@Override
	public void stop() {
		CountDownLatch stopped = new CountDownLatch(1);
		stop(stopped::countDown);
		try {
			stopped.await();
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	@Override
	public boolean isRunning() {
		return this.running.get();
	}

	@Override
	public int getPhase() {
		return PHASE;
	}

	@Override
	public boolean isPauseable() {
		// Once begun, the sequence runs to its end; a paused context must not half-drain.
		return false;
	}

}
