package io.github.gracefulshutdown.core;

import java.time.Instant;

import io.github.gracefulshutdown.TrackedJob;
import org.jspecify.annotations.Nullable;

/**
 * A snapshot of one job, as listed by {@link DefaultJobRegistry#jobs()}.
 *
 * @param name the job's name
 * @param kind where the job came from
 * @param state where the job is in its life
 * @param startedAt when the job began
 * @param progress the last progress the job reported, or {@code null}
 * @param failure the cause a failed job ended with, as its {@code toString()}, or
 * {@code null}
 */
public record JobInfo(String name, JobKind kind, JobState state, Instant startedAt, @Nullable Progress progress,
		@Nullable String failure) {

	/**
	 * Progress reported through {@link TrackedJob#progress(long, long)} or
	 * {@link TrackedJob#progress(String)}.
	 *
	 * @param done units done, or -1 when only a message was reported
	 * @param total units in all, or -1 when only a message was reported
	 * @param message free text, or {@code null}
	 */
	public record Progress(long done, long total, @Nullable String message) {

		/**
		 * Returns the share done, rounded down.
		 * @return 0 to 100, or -1 when no counts were reported or the total is not positive
		 */
		public int percent() {
			if (this.done < 0 || this.total <= 0) {
				return -1;
			}
			return (int) Math.min(100, this.done * 100 / this.total);
		}

		@Override
		public String toString() {
			if (this.message != null) {
				return this.message;
			}
			int percent = percent();
			return (percent >= 0) ? percent + "%" : this.done + "/" + this.total;
		}

	}

}
