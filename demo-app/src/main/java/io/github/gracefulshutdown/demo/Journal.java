package io.github.gracefulshutdown.demo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * An append-only record of every unit of work: a {@code START} line when it begins and an
 * {@code END} line when it completes. A unit with a start and no end was cut in half.
 */
@Component
public class Journal {

	private final Path file;

	Journal(@Value("${demo.journal:journal.log}") Path file) throws IOException {
		this.file = file.toAbsolutePath();
		Path parent = this.file.getParent();
		if (parent != null) {
			Files.createDirectories(parent);
		}
	}

	/**
	 * Records that a unit began.
	 * @param job the job's name
	 * @param unit the unit's id within the job
	 */
	public void start(String job, String unit) {
		write("START " + job + " " + unit);
	}

	/**
	 * Records that a unit completed.
	 * @param job the job's name
	 * @param unit the unit's id within the job
	 */
	public void end(String job, String unit) {
		write("END " + job + " " + unit);
	}

	/**
	 * Records that a unit was cut in half: it started and did not complete.
	 * @param job the job's name
	 * @param unit the unit's id within the job
	 */
	public void cut(String job, String unit) {
		write("CUT " + job + " " + unit);
	}

	/**
	 * Performs one unit of simulated work between a {@code START} and an {@code END}
	 * line, or a {@code CUT} line if it was interrupted.
	 * @param job the job's name
	 * @param unit the unit's id within the job
	 * @param duration how long the unit works
	 * @return whether it completed
	 */
	public boolean unit(String job, String unit, Duration duration) {
		start(job, unit);
		boolean completed = Work.perform(duration);
		if (completed) {
			end(job, unit);
		}
		else {
			cut(job, unit);
		}
		return completed;
	}

	private synchronized void write(String line) {
		try {
			// Opened per line and closed at once: the record survives a kill -9.
			Files.writeString(this.file, line + " " + System.currentTimeMillis() + "\n", StandardCharsets.UTF_8,
					StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

}
