package io.github.gracefulshutdown.demo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * What the demo app's {@link Journal} recorded: for every (job, unit), when it started
 * and when, if ever, it ended. Read from the file the app writes, lines
 * {@code START <job> <unit> <epochMillis>} and {@code END <job> <unit> <epochMillis>}.
 * <p>
 * The file may be read while the app still writes it: a last line without its newline
 * is being written and is ignored. Any other malformed line, an END without a START, or
 * a unit started or ended twice fails the read, since that is a broken journal.
 */
final class JournalFile {

	private final Map<UnitKey, Span> units;

	private JournalFile(Map<UnitKey, Span> units) {
		this.units = Collections.unmodifiableMap(units);
	}

	/**
	 * Reads the journal; a file that does not exist yet is an empty journal.
	 * @param file the journal file
	 * @return what it records
	 */
	static JournalFile read(Path file) throws IOException {
		String text;
		try {
			text = Files.readString(file, StandardCharsets.UTF_8);
		}
		catch (NoSuchFileException ex) {
			return new JournalFile(new LinkedHashMap<>());
		}
		return parse(text);
	}

	static JournalFile parse(String text) {
		Map<UnitKey, Span> units = new LinkedHashMap<>();
		int complete = text.lastIndexOf('\n') + 1;
		int number = 0;
		for (String line : text.substring(0, complete).split("\n", -1)) {
			number++;
			if (line.isEmpty()) {
				continue;
			}
			String[] fields = line.split(" ");
			if (fields.length != 4) {
				throw new IllegalStateException("Journal line " + number + " is malformed: '" + line + "'");
			}
			UnitKey key = new UnitKey(fields[1], fields[2]);
			long at;
			try {
				at = Long.parseLong(fields[3]);
			}
			catch (NumberFormatException ex) {
				throw new IllegalStateException("Journal line " + number + " has no timestamp: '" + line + "'");
			}
			Span span = units.get(key);
			switch (fields[0]) {
				case "START" -> {
					if (span != null) {
						throw new IllegalStateException("Journal line " + number + " starts " + key + " again: '" + line + "'");
					}
					units.put(key, new Span(key, at, null));
				}
				case "END" -> {
					if (span == null || span.end() != null) {
						throw new IllegalStateException("Journal line " + number + " ends " + key
								+ ((span == null) ? ", which never started" : " again") + ": '" + line + "'");
					}
					units.put(key, new Span(key, span.start(), at));
				}
				case "CUT" -> {
					// The unit was interrupted: it stays without an end, so checks that every
					// start has an end report it.
					if (span == null || span.end() != null) {
						throw new IllegalStateException("Journal line " + number + " cuts " + key
								+ ((span == null) ? ", which never started" : " after it ended") + ": '" + line + "'");
					}
				}
				default -> throw new IllegalStateException("Journal line " + number + " is malformed: '" + line + "'");
			}
		}
		return new JournalFile(units);
	}

	Map<UnitKey, Span> units() {
		return this.units;
	}

	List<Span> spans() {
		return List.copyOf(this.units.values());
	}

	List<Span> spans(String job) {
		return this.units.values().stream().filter((span) -> span.key().job().equals(job)).toList();
	}

	/**
	 * Returns the units that started and have not ended: cut in half, if the app is gone.
	 * @return the units without an END
	 */
	List<Span> unfinished() {
		return this.units.values().stream().filter((span) -> !span.ended()).toList();
	}

	boolean hasUnfinished(String job) {
		return spans(job).stream().anyMatch((span) -> !span.ended());
	}

	@Override
	public String toString() {
		return this.units.values().stream().map(Span::toString).collect(Collectors.joining("\n", "journal:\n", ""));
	}

	/**
	 * A unit of a job.
	 * @param job the job's name
	 * @param unit the unit's id within the job
	 */
	record UnitKey(String job, String unit) {

		@Override
		public String toString() {
			return this.job + "#" + this.unit;
		}

	}

	/**
	 * When a unit started and ended.
	 * @param key the unit
	 * @param start the epoch millis of its START
	 * @param end the epoch millis of its END, or {@code null} if it has none
	 */
	record Span(UnitKey key, long start, Long end) {

		boolean ended() {
			return this.end != null;
		}

		/**
		 * Whether the unit was running at the given instant: started at or before it and
		 * not ended by then.
		 */
		boolean inFlightAt(long epochMillis) {
			return this.start <= epochMillis && (this.end == null || this.end > epochMillis);
		}

		@Override
		public String toString() {
			return this.key + " " + this.start + " -> " + ((this.end != null) ? this.end : "(no END)");
		}

	}

}
