package io.github.gracefulshutdown.autoconfigure;

import java.time.Duration;

import org.jspecify.annotations.Nullable;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;

/**
 * Configuration properties for graceful shutdown. The deadline itself is Spring Boot's
 * {@code spring.lifecycle.timeout-per-shutdown-phase}: here it is one budget for the whole
 * shutdown, not one per phase.
 */
@ConfigurationProperties(GracefulShutdownProperties.PREFIX)
public final class GracefulShutdownProperties {

	static final String PREFIX = "graceful-shutdown";

	/**
	 * Whether to shut down gracefully. When false, Spring Boot shuts down as it does
	 * without this starter: there is no drain and no deadline of ours, the ShutdownToken
	 * is never cancelled, and @Background methods are not started. The token and the
	 * JobRegistry remain injectable, so code that uses them still starts.
	 */
	private final boolean enabled;

	/**
	 * How long to keep serving after readiness becomes REFUSING_TRAFFIC, before draining
	 * starts, so that load balancers stop routing to this instance. Not part of the
	 * deadline. When unset: 5s when Spring Boot detects Kubernetes, 0s elsewhere. Set it
	 * to 0s when a preStop hook already sleeps. Skipped when a Spring test context closes,
	 * unless drain-delay-in-tests is true.
	 */
	private final @Nullable Duration drainDelay;

	/**
	 * Whether a context that Spring's TestContext framework manages (a @SpringBootTest)
	 * waits out the drain delay as it closes. Off by default: a test has no load balancer
	 * to wait for, and every context close, the cached ones' at the end of the run
	 * included, would pay it.
	 */
	private final boolean drainDelayInTests;

	/**
	 * Whether to interrupt the threads of jobs still running at the deadline.
	 */
	private final boolean interruptStragglers;

	/**
	 * How often to log what is still in flight while draining.
	 */
	private final Duration progressLogInterval;

	/**
	 * Backoff before a failed @Background job with onFailure = RESTART runs again.
	 */
	private final RestartBackoff restartBackoff;

	/**
	 * Whether the tasks of every executor and scheduler bean are tracked jobs that
	 * shutdown awaits: @Async and @Scheduled executions, on Spring Boot's executor and
	 * scheduler or on the application's own, and every other task submitted to them.
	 * Executor beans that cannot be tracked are named in a warning at startup.
	 */
	private final boolean trackAsync;

	/**
	 * What a second SIGTERM or SIGINT during the graceful shutdown does: 'halt' stops the
	 * process at once, 'ignore' leaves it to the deadline, 'auto' halts only when the
	 * process runs in a terminal.
	 */
	private final SecondSignal secondSignal;

	/**
	 * How long the rest of the shutdown (later lifecycle phases, bean destruction, other
	 * JVM shutdown hooks) may outlive drain-delay + deadline before a watchdog logs what
	 * blocks and halts the JVM with status 124. The sum is the budget stated at startup.
	 */
	private final Duration watchdogMargin;

	/**
	 * When message listener containers (RabbitMQ, Kafka, JMS) stop fetching: 'immediately'
	 * as the shutdown starts, since no load balancer routes messages away from a
	 * consumer, or 'after-drain-delay', with the web server. Either way the messages in
	 * flight finish inside the deadline.
	 */
	private final StopConsuming stopConsuming;

	/**
	 * Creates the properties; {@link #validate()} rejects values that make no sense.
	 * @param enabled whether to enable graceful shutdown
	 * @param drainDelay how long to keep serving before draining, or {@code null} for the
	 * platform's default
	 * @param drainDelayInTests whether a test context waits out the drain delay
	 * @param interruptStragglers whether to interrupt stragglers at the deadline
	 * @param progressLogInterval how often to log progress while draining
	 * @param restartBackoff backoff before restarting a failed job
	 * @param trackAsync whether the tasks of executor and scheduler beans are tracked
	 * @param secondSignal what a second signal during shutdown does
	 * @param watchdogMargin how long the shutdown may outlive drain-delay + deadline
	 * @param stopConsuming when message listener containers stop fetching
	 */
	public GracefulShutdownProperties(@DefaultValue("true") boolean enabled, @Nullable Duration drainDelay,
			@DefaultValue("false") boolean drainDelayInTests, @DefaultValue("true") boolean interruptStragglers, @DefaultValue("1s") Duration progressLogInterval,
			@DefaultValue RestartBackoff restartBackoff, @DefaultValue("true") boolean trackAsync,
			@DefaultValue("auto") SecondSignal secondSignal, @DefaultValue("5s") Duration watchdogMargin,
			@DefaultValue("immediately") StopConsuming stopConsuming) {
		this.enabled = enabled;
		this.drainDelay = drainDelay;
		this.drainDelayInTests = drainDelayInTests;
		this.interruptStragglers = interruptStragglers;
		this.progressLogInterval = progressLogInterval;
		this.restartBackoff = restartBackoff;
		this.trackAsync = trackAsync;
		this.secondSignal = secondSignal;
		this.watchdogMargin = watchdogMargin;
		this.stopConsuming = stopConsuming;
	}

	/**
	 * Rejects values that make no sense, naming the property. Called when the beans that
	 * use them are created rather than while binding, so that the failure analysis can
	 * also say where the value came from.
	 * @throws InvalidConfigurationPropertyValueException for the first bad value
	 */
	void validate() {
		if (this.drainDelay != null) {
			requireNotNegative("drain-delay", this.drainDelay);
		}
		requirePositive("progress-log-interval", this.progressLogInterval);
		requirePositive("watchdog-margin", this.watchdogMargin);
		this.restartBackoff.validate();
	}

	public boolean isEnabled() {
		return this.enabled;
	}

	/**
	 * Returns the drain delay as configured.
	 * @return the delay, or {@code null} when unset
	 */
	public @Nullable Duration getDrainDelay() {
		return this.drainDelay;
	}

	public boolean isDrainDelayInTests() {
		return this.drainDelayInTests;
	}

	public boolean isInterruptStragglers() {
		return this.interruptStragglers;
	}

	public Duration getProgressLogInterval() {
		return this.progressLogInterval;
	}

	public RestartBackoff getRestartBackoff() {
		return this.restartBackoff;
	}

	public boolean isTrackAsync() {
		return this.trackAsync;
	}

	public SecondSignal getSecondSignal() {
		return this.secondSignal;
	}

	public Duration getWatchdogMargin() {
		return this.watchdogMargin;
	}

	public StopConsuming getStopConsuming() {
		return this.stopConsuming;
	}

	/**
	 * When message listener containers stop fetching.
	 */
	public enum StopConsuming {

		/** As the shutdown starts, before the drain delay. */
		IMMEDIATELY,

		/** When draining starts, after the drain delay, as the web server does. */
		AFTER_DRAIN_DELAY;

		/**
		 * Returns whether consumers stop as the shutdown starts.
		 * @return {@code true} for {@link #IMMEDIATELY}
		 */
		public boolean atShutdownStart() {
			return this == IMMEDIATELY;
		}

	}

	/**
	 * What a second SIGTERM or SIGINT during the graceful shutdown does.
	 */
	public enum SecondSignal {

		/** Halt when the process runs in a terminal, where a person presses Ctrl-C twice. */
		AUTO,

		/** Log what is abandoned and halt the process at once. */
		HALT,

		/** Take no notice; the deadline still ends the shutdown. */
		IGNORE

	}

	/**
	 * Capped exponential backoff for restarting failed background jobs.
	 */
	public static final class RestartBackoff {

		/**
		 * Delay before the first restart; it doubles with each consecutive failure.
		 */
		private final Duration initial;

		/**
		 * Longest delay between restarts. A run that lasts longer than this resets the
		 * backoff.
		 */
		private final Duration max;

		/**
		 * Creates the backoff settings.
		 * @param initial delay before the first restart
		 * @param max longest delay between restarts
		 */
		public RestartBackoff(@DefaultValue("1s") Duration initial, @DefaultValue("1m") Duration max) {
			this.initial = initial;
			this.max = max;
		}

		void validate() {
			requirePositive("restart-backoff.initial", this.initial);
			requirePositive("restart-backoff.max", this.max);
			if (this.max.compareTo(this.initial) < 0) {
				throw new InvalidConfigurationPropertyValueException(PREFIX + ".restart-backoff.max", this.max,
						"must not be shorter than " + PREFIX + ".restart-backoff.initial (" + this.initial + ")");
			}
		}

		public Duration getInitial() {
			return this.initial;
		}

		public Duration getMax() {
			return this.max;
		}

	}

	static void requirePositive(String property, Duration value) {
		if (value.isNegative() || value.isZero()) {
			throw new InvalidConfigurationPropertyValueException(PREFIX + "." + property, value,
					"must be longer than zero");
		}
	}

	static void requireNotNegative(String property, Duration value) {
		if (value.isNegative()) {
			throw new InvalidConfigurationPropertyValueException(PREFIX + "." + property, value,
					"must not be negative");
		}
	}

}
