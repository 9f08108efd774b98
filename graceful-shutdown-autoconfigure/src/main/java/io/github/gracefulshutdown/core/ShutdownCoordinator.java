package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

import io.github.gracefulshutdown.ShutdownParticipant.InFlight;
import io.github.gracefulshutdown.ShutdownParticipant;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationContextAware;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.support.AbstractApplicationContext;
import org.springframework.context.support.DefaultLifecycleProcessor;

/**
 * The shutdown sequence, top to bottom: everything between SIGTERM and the destruction
 * of beans is in {@link #shutDown()}.
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

	// Room for the deadline report and the summary after the deadline itself.
	private static final Duration REPORT_MARGIN = Duration.ofSeconds(5);

	private static final Log logger = LogFactory.getLog(ShutdownCoordinator.class);

	private final CancellableToken token;

	private final DefaultJobRegistry jobs;

	// Every participant but the registry, which is drained after them.
	private final List<ShutdownParticipant> servers;

	// The servers, then the registry: what the sequence reports on.
	private final List<ShutdownParticipant> participants;

	private final Settings settings;

	private final AtomicBoolean running = new AtomicBoolean();

	private final CompletableFuture<ShutdownState> finished = new CompletableFuture<>();

	private volatile @Nullable ApplicationContext context;

	private volatile ShutdownState state = ShutdownState.RUNNING;

	private volatile @Nullable Instant startedAt;

	private volatile @Nullable Instant deadline;

	private volatile @Nullable Instant finishedAt;

	private volatile List<InFlight> stragglers = List.of();

	/**
	 * Creates a coordinator.
	 * @param token the token to cancel when draining starts
	 * @param jobs the registry, drained once everything else has drained
	 * @param participants whatever else to drain, such as the web server; the registry,
	 * if listed, is taken out
	 * @param settings the timings
	 */
	public ShutdownCoordinator(CancellableToken token, DefaultJobRegistry jobs, List<ShutdownParticipant> participants,
			Settings settings) {
		this.token = Objects.requireNonNull(token, "token must not be null");
		this.jobs = Objects.requireNonNull(jobs, "jobs must not be null");
		this.servers = participants.stream().filter((participant) -> participant != jobs).toList();
		List<ShutdownParticipant> all = new ArrayList<>(this.servers);
		all.add(jobs);
		this.participants = List.copyOf(all);
		this.settings = Objects.requireNonNull(settings, "settings must not be null");
	}

	// ---- The sequence -------------------------------------------------------------

	private void shutDown() {
		long startNanos = System.nanoTime();
		this.startedAt = Instant.now();
		refuseTraffic();
		keepServingForDrainDelay();

		// One budget for everything from here, not one per phase.
		long deadlineNanos = System.nanoTime() + this.settings.timeout().toNanos();
		Instant deadline = Instant.now().plus(this.settings.timeout());
		this.deadline = deadline;
		ShutdownReport report = new ShutdownReport(this.participants, this.jobs);
		logger.info("Draining " + report.inFlight() + " within " + ShutdownReport.format(this.settings.timeout()));

		// Cancelled first, so nobody reads DRAINING while jobs still say RUNNING.
		this.token.cancel(deadline);
		this.state = ShutdownState.DRAINING;
		boolean drained = await(drainEverything(), deadlineNanos, report);

		String counts = report.drained();
		List<InFlight> stragglers = drained ? List.of() : abandonStragglers();
		finish(drained ? ShutdownState.COMPLETED : ShutdownState.TIMED_OUT, startNanos, counts, stragglers);
	}

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

	private void keepServingForDrainDelay() {
		Duration delay = this.settings.drainDelay();
		if (delay.isZero()) {
			return;
		}
		this.state = ShutdownState.DRAIN_DELAY;
		logger.info("Shutdown requested: still serving for drain-delay " + ShutdownReport.format(delay)
				+ " while load balancers stop routing here");
		try {
			Thread.sleep(delay.toMillis());
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	/**
	 * Drains every server in parallel, then the registry: work that a request or a
	 * message still in flight hands off is begun before the registry is sealed, and so
	 * awaited.
	 */
	private CompletableFuture<?> drainEverything() {
		CompletableFuture<?>[] servers = this.servers.stream().map(this::startDrain).toArray(CompletableFuture[]::new);
		return CompletableFuture.allOf(servers).thenCompose((ignored) -> startDrain(this.jobs));
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

	/**
	 * Waits for the drain, waking on its completion, and every
	 * {@code progress-log-interval} to log what is left.
	 * @return whether everything drained before the deadline
	 */
	private boolean await(CompletableFuture<?> drained, long deadlineNanos, ShutdownReport report) {
		long intervalNanos = this.settings.progressLogInterval().toNanos();
		while (true) {
			long leftNanos = deadlineNanos - System.nanoTime();
			if (leftNanos <= 0) {
				return drained.isDone();
			}
			try {
				drained.get(Math.min(leftNanos, intervalNanos), TimeUnit.NANOSECONDS);
				return true;
			}
			catch (TimeoutException ex) {
				leftNanos = deadlineNanos - System.nanoTime();
				if (!drained.isDone() && leftNanos > 0) {
					logger.info("draining: " + report.inFlight() + ", "
							+ String.format(Locale.ROOT, "%.1f s left", leftNanos / 1e9));
				}
			}
			catch (ExecutionException ex) {
				// startDrain's stages never fail.
				throw new IllegalStateException(ex.getCause());
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
				return false;
			}
		}
	}

	/**
	 * Tells every participant the deadline has passed, reports what each had left with
	 * its stack, and interrupts those threads if configured.
	 */
	private List<InFlight> abandonStragglers() {
		List<InFlight> left = new ArrayList<>();
		for (ShutdownParticipant participant : this.participants) {
			try {
				left.addAll(participant.deadlinePassed());
			}
			catch (RuntimeException ex) {
				logger.error("Shutdown participant '" + participant.name() + "' failed at the deadline", ex);
			}
		}
		boolean interrupt = this.settings.interruptStragglers();
		logger.warn(ShutdownReport.deadlinePassed(this.settings.timeout(), left, interrupt));
		if (interrupt) {
			left.stream().map(InFlight::thread).filter(Objects::nonNull).distinct().forEach(Thread::interrupt);
		}
		return List.copyOf(left);
	}

	private void finish(ShutdownState outcome, long startNanos, String counts, List<InFlight> stragglers) {
		Duration took = Duration.ofNanos(System.nanoTime() - startNanos);
		Instant startedAt = Objects.requireNonNull(this.startedAt);
		this.stragglers = stragglers;
		this.finishedAt = startedAt.plus(took);
		this.state = outcome;
		String summary = ShutdownReport.summary(outcome, took, counts, stragglers);
		if (outcome == ShutdownState.COMPLETED) {
			logger.info(summary);
		}
		else {
			logger.warn(summary);
		}
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
	public @Nullable Instant startedAt() {
		return this.startedAt;
	}

	/**
	 * Returns when the budget for draining runs out.
	 * @return the instant, or {@code null} before draining starts
	 */
	public @Nullable Instant deadline() {
		return this.deadline;
	}

	/**
	 * Returns when the sequence ended.
	 * @return the instant, or {@code null} until it has ended
	 */
	public @Nullable Instant finishedAt() {
		return this.finishedAt;
	}

	/**
	 * Returns the participants, the registry last.
	 * @return every participant
	 */
	public List<ShutdownParticipant> participants() {
		return this.participants;
	}

	/**
	 * Returns how much is in flight now for each participant that counts its units, by
	 * name ({@link Units#REQUEST}, {@link Units#JOB}, ...).
	 * @return the counts, in participant order
	 */
	public Map<String, Long> inFlight() {
		return ShutdownReport.inFlightCounts(this.participants);
	}

	/**
	 * Describes what is in flight now, as the progress line does:
	 * {@code 1 request, 2 jobs (sync, import-1 7%)}.
	 * @return the description
	 */
	public String describeInFlight() {
		return new ShutdownReport(this.participants, this.jobs).inFlight();
	}

	/**
	 * Returns what was still in flight at the deadline.
	 * @return the stragglers, empty unless the state is {@link ShutdownState#TIMED_OUT}
	 */
	public List<InFlight> stragglers() {
		return this.stragglers;
	}

	/**
	 * Returns a future that completes with the final state when the sequence ends.
	 * @return a new future
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
		return this.settings.drainDelay().plus(this.settings.timeout()).plus(REPORT_MARGIN);
	}

	// ---- SmartLifecycle -----------------------------------------------------------

	@Override
	public void setApplicationContext(ApplicationContext context) {
		this.context = context;
	}

	/**
	 * Starts, and gives this phase a timeout of its own: the lifecycle processor gives
	 * every phase {@code timeout-per-shutdown-phase}, and with a drain delay on top it
	 * would stop waiting for the sequence and destroy beans while jobs still finish. The
	 * processor exists by now, since it is what calls {@code start()}.
	 */
	@Override
	public void start() {
		this.running.set(true);
		ApplicationContext context = this.context;
		if (context == null || !context.containsBean(AbstractApplicationContext.LIFECYCLE_PROCESSOR_BEAN_NAME)) {
			return;
		}
		Object processor = context.getBean(AbstractApplicationContext.LIFECYCLE_PROCESSOR_BEAN_NAME);
		if (processor instanceof DefaultLifecycleProcessor lifecycle) {
			lifecycle.setTimeoutForShutdownPhase(PHASE, phaseTimeout().toMillis());
		}
		else {
			logger.warn("The lifecycle processor is a " + processor.getClass().getName()
					+ ", not a DefaultLifecycleProcessor; make sure it waits " + phaseTimeout() + " for phase "
					+ PHASE + ", or shutdown may be cut short");
		}
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

	/**
	 * The timings of the sequence.
	 *
	 * @param drainDelay how long to keep serving after readiness flips, before draining
	 * @param timeout the one deadline for draining everything
	 * @param progressLogInterval how often to log what is still in flight
	 * @param interruptStragglers whether to interrupt the threads of work still in flight
	 * at the deadline
	 */
	public record Settings(Duration drainDelay, Duration timeout, Duration progressLogInterval,
			boolean interruptStragglers) {

		/**
		 * Checks the timings.
		 * @throws IllegalArgumentException if a duration is negative, or the timeout or
		 * the interval is zero
		 */
		public Settings {
			requireNotNegative(drainDelay, "drainDelay");
			requirePositive(timeout, "timeout");
			requirePositive(progressLogInterval, "progressLogInterval");
		}

		private static void requirePositive(Duration duration, String name) {
			Objects.requireNonNull(duration, name + " must not be null");
			if (duration.isNegative() || duration.isZero()) {
				throw new IllegalArgumentException(name + " must be positive but was " + duration);
			}
		}

		private static void requireNotNegative(Duration duration, String name) {
			Objects.requireNonNull(duration, name + " must not be null");
			if (duration.isNegative()) {
				throw new IllegalArgumentException(name + " must not be negative but was " + duration);
			}
		}

	}

}
