package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
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
import org.springframework.context.ApplicationListener;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.support.AbstractApplicationContext;
import org.springframework.context.support.DefaultLifecycleProcessor;
import org.springframework.core.Ordered;

/**
 * The shutdown sequence, top to bottom: everything between SIGTERM and the last bean
 * destroyed is in {@link #shutDown()} and {@link #contextClosed()}.
 * <p>
 * The sequence starts as the root context begins to close, on its
 * {@link ContextClosedEvent}, before the lifecycle processor stops any bean: Spring stops
 * every phase above a lifecycle bean's own first, each on a timeout of its own (listener
 * containers, the gRPC server and the STOMP handler at {@code Integer.MAX_VALUE}, Kafka
 * at {@code MAX - 100}), so a sequence started from a phase would come after them and add
 * to their time. The closing thread waits for the sequence on a thread named
 * {@code graceful-shutdown}, for at most its budget; then the lifecycle phases and bean
 * destruction run, with only what is left of the budget
 * ({@link BudgetedLifecycleProcessor}), and a {@link ShutdownWatchdog} halts the JVM if
 * the process outlives the budget and a margin. The verdict is given once the context
 * has finished closing, so that {@code COMPLETED} means nothing was still running.
 * <p>
 * It is still a {@link SmartLifecycle}, in phase {@link #PHASE}: started with the context,
 * its stop waits for the sequence, and a context that is stopped without being closed
 * runs the sequence from there.
 */
public final class ShutdownCoordinator
		implements SmartLifecycle, ApplicationContextAware, ApplicationListener<ContextClosedEvent>, Ordered {

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

	private final @Nullable ShutdownWatchdog watchdog;

	private final AtomicBoolean running = new AtomicBoolean();

	private final AtomicBoolean begun = new AtomicBoolean();

	// The sequence's own end, which the closing thread waits for.
	private final CompletableFuture<Void> sequenceEnded = new CompletableFuture<>();

	// The verdict, once the context has closed.
	private final CompletableFuture<ShutdownSummary> finished = new CompletableFuture<>();

	private final ShutdownEvents events = ShutdownEvents.forOneShutdown();

	private volatile @Nullable ApplicationContext context;

	private volatile ShutdownState state = ShutdownState.RUNNING;

	// Set when a participant's drain failed: its work may have been cut unseen.
	private volatile boolean drainFailed;

	private volatile @Nullable Instant startedAt;

	private volatile long startNanos;

	private volatile @Nullable Instant deadline;

	private volatile @Nullable Instant finishedAt;

	private volatile List<ShutdownSummary.Straggler> stragglers = List.of();

	private volatile @Nullable ShutdownState drainOutcome;

	private volatile Map<String, Long> drained = Map.of();

	/**
	 * Creates a coordinator that gives its verdict as soon as its sequence ends, with no
	 * watch on the rest of the context's close.
	 * @param token the token to cancel when draining starts
	 * @param jobs the registry, drained once everything else has drained
	 * @param participants whatever else to drain, such as the web server; the registry,
	 * if listed, is taken out
	 * @param settings the timings
	 */
	public ShutdownCoordinator(CancellableToken token, DefaultJobRegistry jobs, List<ShutdownParticipant> participants,
			Settings settings) {
		this(token, jobs, participants, settings, null);
	}

	/**
	 * Creates a coordinator.
	 * @param token the token to cancel when draining starts
	 * @param jobs the registry, drained once everything else has drained
	 * @param participants whatever else to drain, such as the web server; the registry,
	 * if listed, is taken out
	 * @param settings the timings
	 * @param watchdog what bounds the rest of the context's close and says when it has
	 * ended, or {@code null} to give the verdict as the sequence ends
	 */
	public ShutdownCoordinator(CancellableToken token, DefaultJobRegistry jobs, List<ShutdownParticipant> participants,
			Settings settings, @Nullable ShutdownWatchdog watchdog) {
		this.token = Objects.requireNonNull(token, "token must not be null");
		this.jobs = Objects.requireNonNull(jobs, "jobs must not be null");
		this.servers = participants.stream().filter((participant) -> participant != jobs).toList();
		List<ShutdownParticipant> all = new ArrayList<>(this.servers);
		all.add(jobs);
		this.participants = List.copyOf(all);
		this.settings = Objects.requireNonNull(settings, "settings must not be null");
		this.watchdog = watchdog;
		if (watchdog != null) {
			watchdog.onContextClosed(this::contextClosed);
		}
	}

	// ---- The sequence -------------------------------------------------------------

	private void shutDown() {
		refuseTraffic();
		if (!this.settings.drainDelay().isZero()) {
			this.state = ShutdownState.DRAIN_DELAY;
		}
		// Consumers first: nothing routes messages away from them during the delay. What
		// they finish from now on counts as drained.
		ShutdownReport sinceSignal = new ShutdownReport(this.participants, this.jobs);
		Map<ShutdownParticipant, CompletableFuture<?>> stoppedConsuming = stopConsuming(sinceSignal);
		keepServingForDrainDelay();

		// One budget for everything from here, not one per phase.
		long deadlineNanos = System.nanoTime() + this.settings.timeout().toNanos();
		Instant deadline = Instant.now().plus(this.settings.timeout());
		this.deadline = deadline;
		ShutdownReport report = new ShutdownReport(this.participants, this.jobs);
		report.countFrom(sinceSignal, stoppedConsuming.keySet());
		String inFlight = report.inFlight();
		logger.info("Draining " + inFlight + " within " + ShutdownReport.format(this.settings.timeout()));
		this.events.drainingStarted(this.settings.timeout(), inFlight);

		// Cancelled first, so nobody reads DRAINING while jobs still say RUNNING.
		this.token.cancel(deadline);
		this.state = ShutdownState.DRAINING;
		boolean drained = await(drainEverything(stoppedConsuming, report), deadlineNanos, report);

		this.drained = report.drained();
		if (!drained) {
			this.stragglers = abandonStragglers(report);
			this.state = ShutdownState.TIMED_OUT;
		}
		this.drainOutcome = (drained && !this.drainFailed) ? ShutdownState.COMPLETED : ShutdownState.TIMED_OUT;
		String drainedCounts = ShutdownReport.describeDrained(this.drained);
		this.events.drainingEnded(this.drainOutcome, drainedCounts, this.stragglers.size());
		// Said now, not only in the verdict: if the rest of the close blocks and the
		// watchdog halts, this line is what tells whether the work drained.
		Duration took = Duration.ofNanos(System.nanoTime() - this.startNanos);
		logger.info("Shutdown sequence ended in " + ShutdownReport.format(took) + ": " + drainedCounts + ", "
				+ ShutdownReport.count(this.stragglers.size(), "straggler") + "; closing the rest of the context");
		// The rest of the context (later lifecycle phases, bean destruction) closes now,
		// and the verdict waits for it.
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

	/**
	 * Starts the drain of every participant that drains as the shutdown starts (message
	 * consumers stop fetching); the rest of the sequence awaits them with the others.
	 */
	private Map<ShutdownParticipant, CompletableFuture<?>> stopConsuming(ShutdownReport report) {
		Map<ShutdownParticipant, CompletableFuture<?>> started = new LinkedHashMap<>();
		for (ShutdownParticipant participant : this.servers) {
			if (drainsAtShutdownStart(participant)) {
				started.put(participant, startDrain(participant, report));
			}
		}
		if (!started.isEmpty()) {
			logger.info("Shutdown requested: message consumers stopped fetching ("
					+ ShutdownReport.count(started.size(), "participant") + "), finishing "
					+ ShutdownReport.describeCounts(started.keySet()));
		}
		return started;
	}

	private static boolean drainsAtShutdownStart(ShutdownParticipant participant) {
		try {
			return participant.drainsAtShutdownStart();
		}
		catch (RuntimeException ex) {
			// Then it is drained with the others, after the delay, as by default.
			logger.error("Shutdown participant '" + participant.name() + "' failed to say when it drains", ex);
			return false;
		}
	}

	private void keepServingForDrainDelay() {
		Duration delay = this.settings.drainDelay();
		if (delay.isZero()) {
			return;
		}
		logger.info("Shutdown requested: still serving for drain-delay " + ShutdownReport.format(delay)
				+ " while load balancers stop routing here");
		this.events.drainDelayStarted();
		try {
			Thread.sleep(delay.toMillis());
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
		this.events.drainDelayEnded(delay);
	}

	/**
	 * Drains every server in parallel, then the registry: work that a request or a
	 * message still in flight hands off is begun before the registry is sealed, and so
	 * awaited.
	 */
	private CompletableFuture<?> drainEverything(Map<ShutdownParticipant, CompletableFuture<?>> started,
			ShutdownReport report) {
		CompletableFuture<?>[] servers = this.servers.stream()
			.map((participant) -> started.containsKey(participant) ? started.get(participant)
					: startDrain(participant, report))
			.toArray(CompletableFuture[]::new);
		return CompletableFuture.allOf(servers).thenCompose((ignored) -> startDrain(this.jobs, report));
	}

	private CompletableFuture<?> startDrain(ShutdownParticipant participant, ShutdownReport report) {
		this.events.participantStarted(participant);
		CompletableFuture<?> drained;
		try {
			// A participant that fails has nothing more to wait for: its failure is logged
			// and ends its wait, so the wait never ends on an exception; but what it held
			// was not drained, so the verdict cannot be COMPLETED.
			drained = participant.drain().toCompletableFuture().exceptionally((ex) -> {
				this.drainFailed = true;
				logger.error("Shutdown participant '" + participant.name() + "' failed while draining", ex);
				return null;
			});
		}
		catch (RuntimeException ex) {
			this.drainFailed = true;
			logger.error("Shutdown participant '" + participant.name() + "' failed to start draining", ex);
			drained = CompletableFuture.completedFuture(null);
		}
		return drained.whenComplete((ignored, ex) -> participantEnded(participant, report));
	}

	private void participantEnded(ShutdownParticipant participant, ShutdownReport report) {
		this.events.participantEnded(participant, report.drainedBy(participant),
				ShutdownReport.inFlightCount(participant));
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
	private List<ShutdownSummary.Straggler> abandonStragglers(ShutdownReport report) {
		Instant now = Instant.now();
		List<InFlight> left = new ArrayList<>();
		List<ShutdownSummary.Straggler> stragglers = new ArrayList<>();
		for (ShutdownParticipant participant : this.participants) {
			try {
				for (InFlight straggler : participant.deadlinePassed()) {
					left.add(straggler);
					stragglers.add(ShutdownSummary.Straggler.of(participant.name(), straggler, now));
					this.events.straggler(participant.name(), straggler, now);
				}
			}
			catch (RuntimeException ex) {
				logger.error("Shutdown participant '" + participant.name() + "' failed at the deadline", ex);
			}
			// What has not drained by now ends here, for the timeline.
			participantEnded(participant, report);
		}
		boolean interrupt = this.settings.interruptStragglers();
		logger.warn(ShutdownReport.deadlinePassed(this.settings.timeout(), left, interrupt));
		if (interrupt) {
			left.stream().map(InFlight::thread).filter(Objects::nonNull).distinct().forEach(Thread::interrupt);
		}
		return List.copyOf(stragglers);
	}

	/**
	 * The verdict, once the context has finished closing (or as the sequence ends, with no
	 * watchdog): {@code COMPLETED} only if the sequence drained everything and nothing
	 * was still running when the context closed; otherwise what was still running is
	 * named. It is the last line the process logs.
	 */
	private void contextClosed() {
		if (!this.begun.get() || this.finished.isDone()) {
			return;
		}
		List<String> stillRunning = new ArrayList<>();
		if (this.drainOutcome == null) {
			stillRunning.add("the shutdown sequence itself");
		}
		if (this.watchdog != null) {
			this.watchdog.stillStopping().forEach((bean) -> stillRunning.add("stopping " + bean));
		}
		String inFlight = ShutdownReport.stillInFlight(this.participants);
		if (!inFlight.isEmpty()) {
			stillRunning.add(inFlight);
		}
		ShutdownState outcome = (this.drainOutcome == ShutdownState.COMPLETED && stillRunning.isEmpty())
				? ShutdownState.COMPLETED : ShutdownState.TIMED_OUT;
		Duration took = Duration.ofNanos(System.nanoTime() - this.startNanos);
		Instant startedAt = Objects.requireNonNull(this.startedAt);
		this.finishedAt = startedAt.plus(took);
		this.state = outcome;
		ShutdownSummary summary = new ShutdownSummary(outcome, startedAt, took, this.drained, this.stragglers,
				stillRunning);
		if (outcome == ShutdownState.COMPLETED) {
			logger.info(ShutdownReport.summary(summary));
		}
		else {
			logger.warn(ShutdownReport.summary(summary));
		}
		this.finished.complete(summary);
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
	 * Returns whether a JDK Flight Recorder recording is running now. The JVM's own
	 * shutdown hook stops every recording as soon as the JVM begins to shut down, so on a
	 * signal the context must close before that for the recording to hold this sequence.
	 * @return whether the runtime has JFR and a recording is running
	 */
	public boolean isFlightRecording() {
		return ShutdownEvents.recordingRunning();
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
	public List<ShutdownSummary.Straggler> stragglers() {
		return this.stragglers;
	}

	/**
	 * Returns a future that completes with the final state when the sequence ends.
	 * @return a new future
	 */
	public CompletableFuture<ShutdownState> whenFinished() {
		return this.finished.thenApply(ShutdownSummary::state);
	}

	/**
	 * Returns a future that completes with the summary when the sequence ends, after
	 * the context has finished closing: what the verdict line says, in figures.
	 * @return a new future
	 */
	public CompletableFuture<ShutdownSummary> whenSummarized() {
		return this.finished.copy();
	}

	/**
	 * Returns the timings, the drain delay as it applies.
	 * @return the settings
	 */
	public Settings settings() {
		return this.settings;
	}

	/**
	 * Returns how long the closing thread waits for the sequence: the drain delay, the
	 * deadline, and a margin for the report.
	 * @return the longest the sequence takes
	 */
	public Duration phaseTimeout() {
		return this.settings.budget().plus(REPORT_MARGIN);
	}

	/**
	 * Describes the budget as the startup line states it: {@code drain-delay 5 s (the
	 * default on Kubernetes) + deadline 30 s + margin 5 s = 40 s}.
	 * @return the description
	 */
	public String describeBudget() {
		return describeBudget(true);
	}

	// Where the delay came from is said once, at startup; the watchdog's line is short.
	private String describeBudget(boolean withSource) {
		String source = withSource ? this.settings.drainDelaySource() : "";
		return "drain-delay " + seconds(this.settings.drainDelay()) + (source.isEmpty() ? "" : " (" + source + ")")
				+ " + deadline " + seconds(this.settings.timeout())
				+ " + margin " + seconds(this.settings.watchdogMargin()) + " = " + seconds(this.settings.exitBound());
	}

	private static String seconds(Duration duration) {
		return (duration.toMillis() % 1000 == 0) ? duration.toSeconds() + " s" : ShutdownReport.format(duration);
	}

	// ---- Lifecycle ----------------------------------------------------------------

	@Override
	public void setApplicationContext(ApplicationContext context) {
		this.context = context;
	}

	/**
	 * Starts, and states the budget once. The closing thread waits for the sequence
	 * before the lifecycle processor stops anything, so this phase's own timeout matters
	 * only to a context that is stopped without being closed: it gets the whole budget.
	 */
	@Override
	public void start() {
		this.running.set(true);
		logger.info("Graceful shutdown budget: " + describeBudget() + "; terminationGracePeriodSeconds must be at least "
				+ (long) Math.ceil(this.settings.exitBound().toMillis() / 1000.0));
		ApplicationContext context = this.context;
		if (context == null || !context.containsBean(AbstractApplicationContext.LIFECYCLE_PROCESSOR_BEAN_NAME)) {
			return;
		}
		Object processor = context.getBean(AbstractApplicationContext.LIFECYCLE_PROCESSOR_BEAN_NAME);
		if (processor instanceof DefaultLifecycleProcessor lifecycle) {
			lifecycle.setTimeoutForShutdownPhase(PHASE, phaseTimeout().toMillis());
		}
		if (!(processor instanceof BudgetedLifecycleProcessor)) {
			logger.warn("The lifecycle processor is a " + processor.getClass().getName() + ", not ours: lifecycle "
					+ "phases after the shutdown sequence each get their own timeout rather than what is left of "
					+ "the budget, and a bean still stopping when the context closes is not named in the verdict");
		}
	}

	/**
	 * Runs the sequence as the root context begins to close, before any lifecycle bean
	 * stops, and holds the close until it ends. The management child's close, which comes
	 * later, is not ours to act on.
	 */
	@Override
	public void onApplicationEvent(ContextClosedEvent event) {
		if (event.getApplicationContext() != this.context) {
			return;
		}
		begin();
		if (!this.begun.get()) {
			// Never started: there is nothing of ours to drain.
			return;
		}
		try {
			this.sequenceEnded.get(phaseTimeout().toNanos(), TimeUnit.NANOSECONDS);
		}
		catch (TimeoutException ex) {
			logger.error("The shutdown sequence has not ended within " + ShutdownReport.format(phaseTimeout())
					+ "; closing the context anyway");
		}
		catch (ExecutionException ex) {
			// The sequence's stage never fails: its thread completes it in a finally block.
			throw new IllegalStateException(ex.getCause());
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	/**
	 * Starts the sequence once, on a thread of its own, with the watchdog armed first.
	 */
	private void begin() {
		if (!this.running.compareAndSet(true, false) || !this.begun.compareAndSet(false, true)) {
			return;
		}
		this.startNanos = System.nanoTime();
		this.startedAt = Instant.now();
		if (this.watchdog != null) {
			this.watchdog.arm(this.settings.budget(), this.settings.watchdogMargin(), describeBudget(false));
		}
		Thread thread = new Thread(() -> {
			try {
				shutDown();
			}
			catch (RuntimeException | Error ex) {
				logger.error("Graceful shutdown failed", ex);
				this.drainOutcome = ShutdownState.TIMED_OUT;
			}
			finally {
				if (this.watchdog == null) {
					contextClosed();
				}
				this.sequenceEnded.complete(null);
			}
		}, "graceful-shutdown");
		thread.start();
	}

	@Override
	public void stop(Runnable callback) {
		begin();
		if (!this.begun.get()) {
			callback.run();
			return;
		}
		this.sequenceEnded.whenComplete((ignored, ex) -> callback.run());
	}

	@Override
	public void stop() {
		begin();
		try {
			this.sequenceEnded.get();
		}
		catch (ExecutionException ex) {
			throw new IllegalStateException(ex.getCause());
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
	 * First among the listeners to the close: executors that shut down early on it must
	 * still accept the work that requests hand off while they drain.
	 */
	@Override
	public int getOrder() {
		return Ordered.HIGHEST_PRECEDENCE;
	}

	/**
	 * The timings of the sequence.
	 *
	 * @param drainDelay how long to keep serving after readiness flips, before draining
	 * @param timeout the one deadline for draining everything
	 * @param progressLogInterval how often to log what is still in flight
	 * @param interruptStragglers whether to interrupt the threads of work still in flight
	 * at the deadline
	 * @param watchdogMargin how long the rest of the close may outlive drain-delay +
	 * deadline before the watchdog halts the JVM
	 * @param drainDelaySource where the drain delay came from, for the budget line, or
	 * empty
	 */
	public record Settings(Duration drainDelay, Duration timeout, Duration progressLogInterval,
			boolean interruptStragglers, Duration watchdogMargin, String drainDelaySource) {

		/**
		 * The watchdog's margin unless one is given.
		 */
		public static final Duration DEFAULT_WATCHDOG_MARGIN = Duration.ofSeconds(5);

		/**
		 * Checks the timings.
		 * @throws IllegalArgumentException if a duration is negative, or the timeout, the
		 * interval or the margin is zero
		 */
		public Settings {
			requireNotNegative(drainDelay, "drainDelay");
			requirePositive(timeout, "timeout");
			requirePositive(progressLogInterval, "progressLogInterval");
			requirePositive(watchdogMargin, "watchdogMargin");
			Objects.requireNonNull(drainDelaySource, "drainDelaySource must not be null");
		}

		/**
		 * Timings with no word on where the drain delay came from.
		 * @param drainDelay how long to keep serving before draining
		 * @param timeout the one deadline for draining everything
		 * @param progressLogInterval how often to log what is still in flight
		 * @param interruptStragglers whether to interrupt stragglers at the deadline
		 * @param watchdogMargin how long the rest of the close may outlive the budget
		 */
		public Settings(Duration drainDelay, Duration timeout, Duration progressLogInterval,
				boolean interruptStragglers, Duration watchdogMargin) {
			this(drainDelay, timeout, progressLogInterval, interruptStragglers, watchdogMargin, "");
		}

		/**
		 * Timings with the default watchdog margin.
		 * @param drainDelay how long to keep serving before draining
		 * @param timeout the one deadline for draining everything
		 * @param progressLogInterval how often to log what is still in flight
		 * @param interruptStragglers whether to interrupt stragglers at the deadline
		 */
		public Settings(Duration drainDelay, Duration timeout, Duration progressLogInterval,
				boolean interruptStragglers) {
			this(drainDelay, timeout, progressLogInterval, interruptStragglers, DEFAULT_WATCHDOG_MARGIN);
		}

		/**
		 * Returns the budget of the sequence: drain-delay + deadline. Lifecycle phases
		 * after it get what is left of it.
		 * @return the budget
		 */
		public Duration budget() {
			return this.drainDelay.plus(this.timeout);
		}

		/**
		 * Returns how long the process may live after shutdown begins: the budget and the
		 * watchdog's margin.
		 * @return the bound
		 */
		public Duration exitBound() {
			return budget().plus(this.watchdogMargin);
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
