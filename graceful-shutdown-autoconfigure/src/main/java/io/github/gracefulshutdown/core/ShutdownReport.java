package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.stream.Collectors;

import io.github.gracefulshutdown.ShutdownParticipant.InFlight;
import io.github.gracefulshutdown.ShutdownParticipant;

/**
 * The words of the shutdown sequence: the line that starts the drain, the progress
 * lines, the deadline report and the summary. Kept apart from the sequence so that it
 * reads as steps, and so that each figure is counted in one place.
 */
final class ShutdownReport {

	// How many stragglers the deadline report describes one by one, with their stacks.
	private static final int REPORT_LIMIT = 50;

	// How many jobs the progress line names.
	private static final int JOBS_NAMED = 5;

	private final List<ShutdownParticipant> participants;

	private final DefaultJobRegistry jobs;

	// What each participant had completed when draining started, so the summary says
	// how many it drained.
	private final Map<ShutdownParticipant, Long> completedBefore = new LinkedHashMap<>();

	/**
	 * Starts a report of the drain that begins now.
	 * @param participants every participant, the registry included
	 */
	ShutdownReport(List<ShutdownParticipant> participants, DefaultJobRegistry jobs) {
		this.participants = participants;
		this.jobs = jobs;
		for (ShutdownParticipant participant : participants) {
			completed(participant).ifPresent((count) -> this.completedBefore.put(participant, count));
		}
	}

	/**
	 * Counts what these participants complete from the time the earlier report started,
	 * not this one: those that began draining before it, as message consumers do.
	 */
	void countFrom(ShutdownReport earlier, Iterable<ShutdownParticipant> participants) {
		for (ShutdownParticipant participant : participants) {
			Long before = earlier.completedBefore.get(participant);
			if (before != null) {
				this.completedBefore.put(participant, before);
			}
		}
	}

	/**
	 * What is in flight: {@code 1 request, 3 jobs (ledger-sync, import-1 7%)}, counting
	 * only participants that count.
	 */
	String inFlight() {
		List<String> parts = new ArrayList<>();
		inFlightCounts(this.participants).forEach((name, count) -> {
			if (!name.equals(Units.JOB)) {
				parts.add(count(count, name));
			}
		});
		List<JobInfo> active = this.jobs.jobs()
			.stream()
			.filter((job) -> job.state() == JobState.RUNNING || job.state() == JobState.STOPPING)
			.toList();
		String jobs = count(active.size(), "job");
		if (!active.isEmpty()) {
			jobs += active.stream()
				.limit(JOBS_NAMED)
				.map((job) -> job.name() + ((job.progress() != null) ? " " + job.progress() : ""))
				.collect(Collectors.joining(", ", " (", (active.size() > JOBS_NAMED) ? ", ...)" : ")"));
		}
		parts.add(jobs);
		return String.join(", ", parts);
	}

	/**
	 * How many units each counting participant has finished since the report started, by
	 * name. Read before anything is abandoned, so that it counts what was drained, not
	 * what was cut.
	 */
	Map<String, Long> drained() {
		Map<String, Long> drained = new LinkedHashMap<>();
		this.completedBefore.forEach((participant, before) -> drained.merge(participant.name(),
				completed(participant).orElse(before) - before, Long::sum));
		drained.putIfAbsent(Units.JOB, 0L);
		return drained;
	}

	/**
	 * How many units this participant has finished since the report started.
	 * @return the count, or {@code -1} if it does not count
	 */
	long drainedBy(ShutdownParticipant participant) {
		Long before = this.completedBefore.get(participant);
		return (before != null) ? completed(participant).orElse(before) - before : -1;
	}

	/**
	 * How many units this participant holds now, or {@code -1} if it does not count.
	 */
	static long inFlightCount(ShutdownParticipant participant) {
		return safely(participant::inFlightCount).orElse(-1);
	}

	/**
	 * Says what was drained: {@code 1 request drained, 3 jobs stopped}, jobs last.
	 */
	static String describeDrained(Map<String, Long> drained) {
		List<String> parts = new ArrayList<>();
		drained.forEach((name, count) -> {
			if (!name.equals(Units.JOB)) {
				parts.add(count(count, name) + " drained");
			}
		});
		parts.add(count(drained.getOrDefault(Units.JOB, 0L), "job") + " stopped");
		return String.join(", ", parts);
	}

	/**
	 * The verdict, the last line the process logs: {@code Graceful shutdown COMPLETED in
	 * 3.47 s: 1 request drained, 5 jobs stopped, 0 stragglers}, and what was still
	 * running when the context closed, if anything was.
	 */
	static String summary(ShutdownSummary summary) {
		StringBuilder line = new StringBuilder("Graceful shutdown ").append(summary.state()).append(" in ")
			.append(format(summary.took())).append(": ");
		if (!summary.drained().isEmpty()) {
			line.append(describeDrained(summary.drained())).append(", ");
		}
		List<String> stragglers = summary.stragglers().stream().map(ShutdownSummary.Straggler::description).toList();
		line.append(count(stragglers.size(), "straggler"));
		if (!stragglers.isEmpty()) {
			line.append(" (").append(byName(stragglers)).append(')');
		}
		if (!summary.stillRunning().isEmpty()) {
			line.append("; still running as the context closed: ").append(String.join("; ", summary.stillRunning()));
		}
		return line.toString();
	}

	/**
	 * What the participants still hold: {@code 1 request (GET /slow), 2 jobs (import-1,
	 * ASYNC job 'mailer.send')}, or empty.
	 */
	static String stillInFlight(List<ShutdownParticipant> participants) {
		List<String> parts = new ArrayList<>();
		for (ShutdownParticipant participant : participants) {
			List<InFlight> left;
			try {
				left = participant.inFlight();
			}
			catch (RuntimeException ex) {
				continue;
			}
			if (!left.isEmpty()) {
				parts.add(count(left.size(), participant.name()) + " (" + byName(descriptions(left)) + ")");
			}
		}
		return String.join(", ", parts);
	}

	/**
	 * The WARN block at the deadline: each straggler, how long it ran, and its thread's
	 * stack, at most {@value #REPORT_LIMIT} of them.
	 */
	static String deadlinePassed(Duration timeout, List<InFlight> left, boolean interrupting) {
		long now = System.currentTimeMillis();
		StringBuilder report = new StringBuilder("Shutdown deadline of ").append(format(timeout))
			.append(" passed with ")
			.append(count(left.size(), "straggler"))
			.append(interrupting ? "; interrupting their threads" : "")
			.append(':');
		// Bounded: ten thousand stacks would bury the log and delay the exit.
		for (InFlight straggler : left.subList(0, Math.min(left.size(), REPORT_LIMIT))) {
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
			report.append("\n  ... and ").append(left.size() - REPORT_LIMIT).append(" more: ").append(byName(descriptions(left)));
		}
		return report.toString();
	}

	/**
	 * How much each counting participant has in flight, by name; participants that
	 * share a name are added up.
	 */
	/**
	 * What these participants have in flight, for those that count: {@code 2 messages}.
	 */
	static String describeCounts(Collection<ShutdownParticipant> participants) {
		List<String> parts = new ArrayList<>();
		inFlightCounts(List.copyOf(participants)).forEach((name, count) -> parts.add(count(count, name)));
		return parts.isEmpty() ? "what is in flight" : String.join(", ", parts);
	}

	static Map<String, Long> inFlightCounts(List<ShutdownParticipant> participants) {
		Map<String, Long> counts = new LinkedHashMap<>();
		for (ShutdownParticipant participant : participants) {
			OptionalLong count = safely(participant::inFlightCount);
			if (count.isPresent()) {
				counts.merge(participant.name(), count.getAsLong(), Long::sum);
			}
		}
		return counts;
	}

	private static OptionalLong completed(ShutdownParticipant participant) {
		return safely(participant::completedCount);
	}

	// A participant of the user's that fails to count must not break the report.
	private static OptionalLong safely(java.util.function.Supplier<OptionalLong> count) {
		try {
			return count.get();
		}
		catch (RuntimeException ex) {
			return OptionalLong.empty();
		}
	}

	/**
	 * Names stragglers compactly: {@code GET /events, TRACKED job 'import' x9998}, the
	 * largest groups first, at most ten of them.
	 */
	static String byName(List<String> descriptions) {
		Map<String, Long> counts = descriptions.stream()
			.collect(Collectors.groupingBy((description) -> description, LinkedHashMap::new, Collectors.counting()));
		String named = counts.entrySet()
			.stream()
			.sorted(Map.Entry.<String, Long>comparingByValue().reversed())
			.limit(10)
			.map((entry) -> entry.getKey() + ((entry.getValue() > 1) ? " x" + entry.getValue() : ""))
			.collect(Collectors.joining(", "));
		return (counts.size() > 10) ? named + ", ..." : named;
	}

	private static List<String> descriptions(List<InFlight> inFlight) {
		return inFlight.stream().map(InFlight::description).toList();
	}

	static String count(long n, String noun) {
		return n + " " + noun + ((n == 1) ? "" : "s");
	}

	static String format(Duration duration) {
		return String.format(Locale.ROOT, "%.2f s", duration.toNanos() / 1e9);
	}

}
