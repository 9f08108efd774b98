package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.time.Instant;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.ShutdownParticipant.InFlight;

/**
 * The shutdown sequence as JDK Flight Recorder events, so that a recording shows it on
 * one timeline with the threads, locks and GC it ran beside: the drain delay, the drain
 * of each participant, the drain as a whole, and each straggler. Nothing is recorded, and
 * almost nothing is done, unless a recording has the events enabled (they are, in JFR's
 * {@code default} and {@code profile} settings).
 * <p>
 * Behind this interface because a runtime built with {@code jlink} may lack the
 * {@code jdk.jfr} module: then nothing here loads a JFR class.
 */
interface ShutdownEvents {

	/**
	 * Events for one shutdown: JFR's when the runtime has it, none otherwise.
	 * @return a fresh instance for one sequence
	 */
	static ShutdownEvents forOneShutdown() {
		return jfrPresent() ? new JfrShutdownEvents() : new ShutdownEvents() {
		};
	}

	/**
	 * Whether a JFR recording is running now. The JVM's own shutdown hook stops it as
	 * soon as the JVM begins to shut down, before this sequence records anything.
	 * @return whether the runtime has JFR and a recording is running
	 */
	static boolean recordingRunning() {
		return jfrPresent() && JfrShutdownEvents.recordingRunning();
	}

	// Checked before any JFR class is touched: a jlink runtime may lack the module.
	private static boolean jfrPresent() {
		return ModuleLayer.boot().findModule("jdk.jfr").isPresent();
	}

	/** The drain delay begins. */
	default void drainDelayStarted() {
	}

	/**
	 * The drain delay has ended.
	 * @param delay the configured delay
	 */
	default void drainDelayEnded(Duration delay) {
	}

	/**
	 * Draining begins, within the deadline.
	 * @param timeout the deadline's length
	 * @param inFlight what is in flight, as the log line says it
	 */
	default void drainingStarted(Duration timeout, String inFlight) {
	}

	/**
	 * A participant starts draining.
	 * @param participant the participant
	 */
	default void participantStarted(ShutdownParticipant participant) {
	}

	/**
	 * A participant has drained, or had not when the deadline passed.
	 * @param participant the participant
	 * @param drained how many units it finished while draining, or {@code -1} if it does
	 * not count
	 * @param left how many units it still holds, or {@code -1} if it does not count
	 */
	default void participantEnded(ShutdownParticipant participant, long drained, long left) {
	}

	/**
	 * One unit of work is still in flight at the deadline.
	 * @param participant the name of the participant that holds it
	 * @param straggler the unit
	 * @param deadline when the deadline passed
	 */
	default void straggler(String participant, InFlight straggler, Instant deadline) {
	}

	/**
	 * Draining has ended.
	 * @param outcome {@link ShutdownState#COMPLETED} or {@link ShutdownState#TIMED_OUT}
	 * @param drained what was drained, as the summary says it
	 * @param stragglers how many units were abandoned
	 */
	default void drainingEnded(ShutdownState outcome, String drained, int stragglers) {
	}

}
