package io.github.gracefulshutdown.test;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import io.github.gracefulshutdown.core.ShutdownState;
import io.github.gracefulshutdown.core.ShutdownSummary.Straggler;
import org.assertj.core.api.AbstractAssert;

/**
 * AssertJ assertions on a {@link ShutdownVerdict}. Every failure quotes the verdict line,
 * so the test report says what the shutdown did.
 */
public final class ShutdownVerdictAssert extends AbstractAssert<ShutdownVerdictAssert, ShutdownVerdict> {

	ShutdownVerdictAssert(ShutdownVerdict verdict) {
		super(verdict, ShutdownVerdictAssert.class);
	}

	/**
	 * Verifies that everything drained before the deadline and nothing was still
	 * running as the context closed.
	 * @return this
	 */
	public ShutdownVerdictAssert isCompleted() {
		return hasState(ShutdownState.COMPLETED);
	}

	/**
	 * Verifies that the deadline passed, or a participant failed, with work in flight.
	 * @return this
	 */
	public ShutdownVerdictAssert isTimedOut() {
		return hasState(ShutdownState.TIMED_OUT);
	}

	private ShutdownVerdictAssert hasState(ShutdownState state) {
		isNotNull();
		if (this.actual.state() != state) {
			failWithMessage("Expected the shutdown to end %s, but it ended %s:%n  %s", state, this.actual.state(),
					this.actual);
		}
		return this;
	}

	/**
	 * Verifies that the shutdown took less than this, from the close to the verdict.
	 * @param bound the bound, exclusive
	 * @return this
	 */
	public ShutdownVerdictAssert tookLessThan(Duration bound) {
		isNotNull();
		if (this.actual.took().compareTo(bound) >= 0) {
			failWithMessage("Expected the shutdown to take less than %s, but it took %s:%n  %s", bound,
					this.actual.took(), this.actual);
		}
		return this;
	}

	/**
	 * Verifies how many units one participant finished while the shutdown ran.
	 * @param participant its name, such as {@code "job"} or {@code "request"}
	 * @param count the exact count
	 * @return this
	 */
	public ShutdownVerdictAssert hasDrained(String participant, long count) {
		isNotNull();
		if (this.actual.drained(participant) != count) {
			failWithMessage("Expected %d %s(s) drained, but %d were:%n  %s", count, participant,
					this.actual.drained(participant), this.actual);
		}
		return this;
	}

	/**
	 * Verifies that nothing was in flight at the deadline.
	 * @return this
	 */
	public ShutdownVerdictAssert hasNoStragglers() {
		isNotNull();
		if (!this.actual.stragglers().isEmpty()) {
			failWithMessage("Expected no stragglers, but there were %d:%n  %s", this.actual.stragglers().size(),
					this.actual);
		}
		return this;
	}

	/**
	 * Verifies that exactly these units were in flight at the deadline, in any order, by
	 * the names the deadline report gives them ({@code "TRACKED job 'import'"},
	 * {@code "GET /slow"}).
	 * @param names the stragglers' names
	 * @return this
	 */
	public ShutdownVerdictAssert hasStragglers(String... names) {
		isNotNull();
		List<String> actual = this.actual.stragglers().stream().map(Straggler::description).sorted().toList();
		List<String> expected = Arrays.stream(names).sorted().toList();
		if (!actual.equals(expected)) {
			failWithMessage("Expected the stragglers %s, but they were %s:%n  %s", expected, actual, this.actual);
		}
		return this;
	}

}
