package io.github.gracefulshutdown.demo;

import java.util.List;

import org.assertj.core.api.SoftAssertions;

/**
 * What the web end-to-end tests share: how to see that Tomcat has stopped accepting, and
 * how to read the journal, the summary line and many checks at once.
 */
final class E2eChecks {

	/**
	 * Logged at debug once the connectors are paused and idle keep-alive connections are
	 * closed. The {@code Draining} line is logged just before that work starts, so seeing
	 * it alone does not mean Tomcat has stopped accepting yet.
	 */
	static final String STOPPED_ACCEPTING = "Tomcat stopped accepting connections";

	/** The argument that makes the app log {@link #STOPPED_ACCEPTING}. */
	static final String WEB_DRAIN_DEBUG = "--logging.level.io.github.gracefulshutdown.web.WebServerDrain=debug";

	private E2eChecks() {
	}

	/**
	 * Returns how many units of the job started and have not ended.
	 * @param journal the journal
	 * @param job the job's name
	 * @return the count
	 */
	static long unfinished(JournalFile journal, String job) {
		return journal.spans(job).stream().filter((span) -> !span.ended()).count();
	}

	/**
	 * Returns the coordinator's last summary line.
	 * @param lines the app's output
	 * @param context what to add to the failure message
	 * @return the line
	 * @throws AssertionError if there is none
	 */
	static String summary(List<String> lines, String context) {
		return lines.stream()
			.filter((line) -> GracefulShutdownIT.SUMMARY.matcher(line).find())
			.reduce((first, second) -> second)
			.orElseThrow(() -> new AssertionError("No summary line" + context));
	}

	/**
	 * Fails with every failed check, numbered, followed once by the context (the journal
	 * and the app's last lines).
	 * @param softly the checks
	 * @param context what to add to the failure message
	 */
	static void assertAll(SoftAssertions softly, String context) {
		List<AssertionError> errors = softly.assertionErrorsCollected();
		if (errors.isEmpty()) {
			return;
		}
		StringBuilder message = new StringBuilder().append(errors.size()).append(" check(s) failed:");
		for (int i = 0; i < errors.size(); i++) {
			message.append('\n').append(i + 1).append(") ").append(errors.get(i).getMessage().strip());
		}
		AssertionError failure = new AssertionError(message.append(context).toString());
		errors.forEach(failure::addSuppressed);
		throw failure;
	}

}
