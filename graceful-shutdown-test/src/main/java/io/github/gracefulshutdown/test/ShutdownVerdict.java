package io.github.gracefulshutdown.test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.github.gracefulshutdown.core.ShutdownState;
import io.github.gracefulshutdown.core.ShutdownSummary;
import io.github.gracefulshutdown.core.ShutdownSummary.Straggler;
import org.assertj.core.api.AssertProvider;

/**
 * What a rehearsed shutdown came to: the figures of its verdict line. AssertJ's
 * {@code assertThat(verdict)} returns a {@link ShutdownVerdictAssert}.
 */
public final class ShutdownVerdict implements AssertProvider<ShutdownVerdictAssert> {

	private final ShutdownSummary summary;

	ShutdownVerdict(ShutdownSummary summary) {
		this.summary = summary;
	}

	/**
	 * Returns the outcome.
	 * @return {@link ShutdownState#COMPLETED} or {@link ShutdownState#TIMED_OUT}
	 */
	public ShutdownState state() {
		return this.summary.state();
	}

	/**
	 * Returns how long the shutdown took, from the close to the verdict.
	 * @return the duration
	 */
	public Duration took() {
		return this.summary.took();
	}

	/**
	 * Returns how many units each participant finished while the shutdown ran, by name
	 * ({@code request}, {@code message}, {@code call}, {@code job}, ...).
	 * @return the counts, for the participants that count
	 */
	public Map<String, Long> drained() {
		return this.summary.drained();
	}

	/**
	 * Returns how many units of one participant finished while the shutdown ran.
	 * @param participant its name, such as {@code "job"}
	 * @return the count, 0 if it finished none or does not count
	 */
	public long drained(String participant) {
		return this.summary.drained().getOrDefault(participant, 0L);
	}

	/**
	 * Returns what was still in flight at the deadline, with names, ages and threads.
	 * @return the stragglers, empty unless the deadline passed
	 */
	public List<Straggler> stragglers() {
		return this.summary.stragglers();
	}

	/**
	 * Returns what was still running as the context finished closing.
	 * @return descriptions, as the verdict line has them
	 */
	public List<String> stillRunning() {
		return this.summary.stillRunning();
	}

	@Override
	public ShutdownVerdictAssert assertThat() {
		return new ShutdownVerdictAssert(this);
	}

	/**
	 * Returns the verdict line, as the application logs it.
	 * @return {@code Graceful shutdown COMPLETED in 0.31 s: 3 jobs stopped, 0 stragglers}
	 */
	@Override
	public String toString() {
		return this.summary.toString();
	}

}
