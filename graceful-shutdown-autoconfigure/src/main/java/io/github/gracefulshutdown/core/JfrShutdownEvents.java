package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.ShutdownParticipant.InFlight;
import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.FlightRecorder;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.RecordingState;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * {@link ShutdownEvents} as JFR events. Each event object is created as its step begins
 * and committed as it ends, so its duration is the step's; {@code commit()} records
 * nothing unless a recording enables the event.
 */
final class JfrShutdownEvents implements ShutdownEvents {

	private final DrainDelayEvent drainDelay = new DrainDelayEvent();

	private final DrainingEvent draining = new DrainingEvent();

	private final Map<ShutdownParticipant, ParticipantDrainEvent> participants = new ConcurrentHashMap<>();

	// isInitialized() first: getFlightRecorder() would start JFR in a process that never
	// asked for it.
	static boolean recordingRunning() {
		return FlightRecorder.isInitialized() && FlightRecorder.getFlightRecorder()
			.getRecordings()
			.stream()
			.anyMatch((recording) -> recording.getState() == RecordingState.RUNNING);
	}

	@Override
	public void drainDelayStarted() {
		this.drainDelay.begin();
	}

	@Override
	public void drainDelayEnded(Duration delay) {
		this.drainDelay.delay = delay.toMillis();
		this.drainDelay.commit();
	}

	@Override
	public void drainingStarted(Duration timeout, String inFlight) {
		this.draining.begin();
		this.draining.timeout = timeout.toMillis();
		this.draining.inFlight = inFlight;
	}

	@Override
	public void participantStarted(ShutdownParticipant participant) {
		ParticipantDrainEvent event = new ParticipantDrainEvent();
		event.participant = participant.name();
		event.begin();
		this.participants.put(participant, event);
	}

	@Override
	public void participantEnded(ShutdownParticipant participant, long drained, long left) {
		// Once: a participant that drains after the deadline has been reported is not
		// reported again.
		ParticipantDrainEvent event = this.participants.remove(participant);
		if (event != null) {
			event.drained = drained;
			event.left = left;
			event.commit();
		}
	}

	@Override
	public void straggler(String participant, InFlight straggler, Instant deadline) {
		StragglerEvent event = new StragglerEvent();
		if (event.isEnabled()) {
			event.kind = participant;
			event.name = straggler.description();
			event.age = Duration.between(straggler.startedAt(), deadline).toMillis();
			event.workThread = straggler.thread();
			event.commit();
		}
	}

	@Override
	public void drainingEnded(ShutdownState outcome, String drained, int stragglers) {
		this.draining.outcome = outcome.name();
		this.draining.drained = drained;
		this.draining.stragglers = stragglers;
		this.draining.commit();
	}

	@Name("io.github.gracefulshutdown.DrainDelay")
	@Label("Drain Delay")
	@Category({ "Spring Boot", "Graceful Shutdown" })
	@Description("Readiness refused traffic while the application kept serving, so that load balancers stop routing to it")
	@StackTrace(false)
	static final class DrainDelayEvent extends Event {

		@Label("Configured Delay")
		@Timespan(Timespan.MILLISECONDS)
		long delay;

	}

	@Name("io.github.gracefulshutdown.Draining")
	@Label("Draining")
	@Category({ "Spring Boot", "Graceful Shutdown" })
	@Description("Every participant drained within one deadline, from its start to the last completion or the deadline")
	@StackTrace(false)
	static final class DrainingEvent extends Event {

		@Label("Outcome")
		@Description("COMPLETED, or TIMED_OUT when the deadline passed or a participant failed to drain")
		String outcome;

		@Label("Deadline")
		@Timespan(Timespan.MILLISECONDS)
		long timeout;

		@Label("In Flight at Start")
		String inFlight;

		@Label("Drained")
		String drained;

		@Label("Stragglers")
		int stragglers;

	}

	@Name("io.github.gracefulshutdown.ParticipantDrain")
	@Label("Participant Drain")
	@Category({ "Spring Boot", "Graceful Shutdown" })
	@Description("One participant (requests, messages, calls, jobs, ...) draining, from its start to its last completion "
			+ "or the deadline")
	@StackTrace(false)
	static final class ParticipantDrainEvent extends Event {

		@Label("Participant")
		String participant;

		@Label("Drained")
		@Description("Units finished while draining; -1 if the participant does not count")
		long drained;

		@Label("Left")
		@Description("Units still in flight as the drain ended; -1 if the participant does not count")
		long left;

	}

	@Name("io.github.gracefulshutdown.Straggler")
	@Label("Shutdown Straggler")
	@Category({ "Spring Boot", "Graceful Shutdown" })
	@Description("Work still in flight when the shutdown deadline passed, reported and abandoned")
	@StackTrace(false)
	static final class StragglerEvent extends Event {

		@Label("Kind")
		@Description("The participant that held it: request, message, call, job, ...")
		String kind;

		@Label("Name")
		@Description("What it was, as the deadline report names it: GET /slow, TRACKED job 'import', ...")
		String name;

		@Label("Age")
		@Description("How long it had run when the deadline passed")
		@Timespan(Timespan.MILLISECONDS)
		long age;

		@Label("Work Thread")
		Thread workThread;

	}

}
