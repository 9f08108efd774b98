package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import io.github.gracefulshutdown.demo.JournalFile.Span;
import io.github.gracefulshutdown.web.RawHttp;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end: the budget the app states at startup bounds the whole process, whatever
 * blocks its close. Each test runs the demo app as a separate JVM with a 3 s deadline
 * (budget: drain-delay 0 s + deadline 3 s + margin 5 s = 8 s), starts
 * {@code GET /slow?ms=2500} and sends a real SIGTERM while it is in flight:
 * <ul>
 * <li>a bean whose {@code stop()} blocks for 60 s ({@code demo.blocking-stop}), and one
 * whose {@code @PreDestroy} does ({@code demo.blocking-pre-destroy}): the request still
 * completes, then the watchdog logs one ERROR block that names the bean and shows its
 * frame on the closing thread's stack, and halts with status 124 soon after the budget,
 * far from the 60 s the bean would take; the sequence's own line before it said the
 * request had drained;</li>
 * <li>a bean whose {@code stop(Runnable)} never calls back ({@code demo.never-stops}):
 * its phase gets what is left of the budget, the process exits normally (143) and the
 * last line is a {@code TIMED_OUT} verdict that names the bean;</li>
 * <li>a bean in phase {@code Integer.MAX_VALUE} ({@code demo.order-probe}) is stopped
 * only once the sequence has drained the requests: it was still running while they
 * did;</li>
 * <li>a JVM shutdown hook of the application's own that takes 60 s
 * ({@code demo.slow-exit-hook}): the context closes with its verdict, then the watchdog
 * halts at the budget, and prints what blocks, a {@code TIMED_OUT} verdict of its own,
 * though the logging system has stopped;</li>
 * <li>a second SIGTERM while a bean holds the close is ignored (the default
 * {@code graceful-shutdown.second-signal=auto}, and the test's process is no terminal):
 * the budget still bounds the process;</li>
 * <li>with nothing that blocks, the last line is {@code Graceful shutdown COMPLETED} and
 * the status 143.</li>
 * </ul>
 * Timing bounds are generous: the watchdog's own precision is measured by
 * {@code bench/exit-bound.sh}.
 */
class BudgetIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final Duration DEADLINE = Duration.ofSeconds(3);

	/** drain-delay 0 s + deadline 3 s + margin 5 s. */
	private static final Duration BUDGET = Duration.ofSeconds(8);

	/** Far beyond the watchdog's precision, far below the blockers' 60 s. */
	private static final Duration SLACK = Duration.ofSeconds(6);

	private static final Duration BLOCK = Duration.ofSeconds(60);

	private static final String REQUEST = "/slow?ms=2500";

	private static final String BUDGET_LINE = "Graceful shutdown budget: drain-delay 0 s (the default outside Kubernetes) + deadline 3 s + margin 5 s"
			+ " = 8 s; terminationGracePeriodSeconds must be at least 8";

	private static final String HALT_LINE = ": the budget (drain-delay 0 s + deadline 3 s + margin 5 s"
			+ " = 8 s) is spent and the process is still alive";

	private static final String SEQUENCE_ENDED = "Shutdown sequence ended in ";

	private static final String CLOSING_THREAD = "  thread \"SpringApplicationShutdownHook\" (closing the context), ";

	private static final Pattern TIMESTAMPED = Pattern.compile("^\\d{4}-\\d{2}-\\d{2}T\\S+\\s+[A-Z]+ ");

	private static final int HALT_STATUS = 124;

	private static final int SIGTERM_STATUS = 143;

	@TempDir
	Path tempDir;

	// ---- A close that blocks: the watchdog halts -----------------------------------

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void aStopThatBlocksIsNamedWithItsFrameAndTheWatchdogHaltsSoonAfterTheBudget() throws Exception {
		Shutdown shutdown = shutDownWithARequestInFlight("budget-blocking-stop", null,
				"--demo.blocking-stop=" + BLOCK.toSeconds() + "s");
		SoftAssertions softly = new SoftAssertions();
		assertHalted(softly, shutdown, "BlockingStop: stopping",
				"  stopping bean 'blockingStop' (io.github.gracefulshutdown.demo.BlockingStop, phase 2147483647), for ",
				"io.github.gracefulshutdown.demo.BlockingStop.stop(");
		E2eFixture.assertAll(softly, shutdown.context);
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void aPreDestroyThatBlocksIsNamedWithItsFrameAndTheWatchdogHaltsSoonAfterTheBudget() throws Exception {
		Shutdown shutdown = shutDownWithARequestInFlight("budget-blocking-pre-destroy", null,
				"--demo.blocking-pre-destroy=" + BLOCK.toSeconds() + "s");
		SoftAssertions softly = new SoftAssertions();
		assertHalted(softly, shutdown, "BlockingPreDestroy: releasing",
				"  destroying bean 'blockingPreDestroy' (io.github.gracefulshutdown.demo.BlockingPreDestroy), for ",
				"io.github.gracefulshutdown.demo.BlockingPreDestroy.release(");
		E2eFixture.assertAll(softly, shutdown.context);
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void aSecondSigtermWhileABeanHoldsTheCloseIsIgnoredAndTheBudgetStillHolds() throws Exception {
		List<Long> seconds = new ArrayList<>();
		Shutdown shutdown = shutDownWithARequestInFlight("budget-second-sigterm", (app, pid) -> {
			app.awaitLine("BlockingStop: stopping", Duration.ofSeconds(15));
			seconds.add(E2eFixture.kill(pid, "TERM"));
			Thread.sleep(1000);
			seconds.add(E2eFixture.kill(pid, "TERM"));
		}, "--demo.blocking-stop=" + BLOCK.toSeconds() + "s");
		SoftAssertions softly = new SoftAssertions();
		assertHalted(softly, shutdown, "BlockingStop: stopping",
				"  stopping bean 'blockingStop' (io.github.gracefulshutdown.demo.BlockingStop, phase 2147483647), for ",
				"io.github.gracefulshutdown.demo.BlockingStop.stop(");
		softly.assertThat(seconds).as("second SIGTERMs sent while BlockingStop blocked").hasSize(2);
		softly.assertThat(shutdown.lines).as("a second-signal handler's line (not installed by default here)")
			.noneMatch((line) -> line.contains("second signal"));
		E2eFixture.assertAll(softly, shutdown.context);
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void aSlowJvmShutdownHookIsBoundedTooAndWhatBlocksIsPrintedAfterTheVerdict() throws Exception {
		Shutdown shutdown = shutDownWithARequestInFlight("budget-slow-exit-hook", null,
				"--demo.slow-exit-hook=" + BLOCK.toSeconds() + "s");
		SoftAssertions softly = new SoftAssertions();
		assertRequestDrained(softly, shutdown);
		softly.assertThat(shutdown.exitValue).as("exit status (the watchdog's halt)").isEqualTo(HALT_STATUS);
		softly.assertThat(shutdown.exitTime)
			.as("exit after SIGTERM: the " + BUDGET.toSeconds() + " s budget + at most " + SLACK.toSeconds()
					+ " s, far below the " + BLOCK.toSeconds() + " s hook")
			.isGreaterThanOrEqualTo(BUDGET.minusMillis(500))
			.isLessThan(BUDGET.plus(SLACK));
		// The context closed with its own verdict; the hook it halts is cut, so the
		// watchdog's block is the last verdict, and it is not COMPLETED.
		int contextVerdict = E2eFixture.indexOf(shutdown.lines, "Graceful shutdown COMPLETED in ", 0);
		softly.assertThat(contextVerdict).as("the context's verdict, before the ERROR block")
			.isNotNegative()
			.isLessThan(shutdown.haltIndex);
		softly.assertThat(shutdown.summaryIndex).as("the last verdict: the watchdog's block")
			.isEqualTo(shutdown.haltIndex);
		if (shutdown.haltIndex >= 0) {
			softly.assertThat(shutdown.lines.get(shutdown.haltIndex)).as("the last verdict")
				.contains("Graceful shutdown TIMED_OUT in ")
				.contains("is still alive after the context closed; halting with status 124");
		}
		// Spring Boot has stopped the logging system by then: the block is printed to stderr.
		softly.assertThat(shutdown.haltIndex).as("the watchdog's ERROR block, though logging has stopped")
			.isNotNegative();
		if (shutdown.haltIndex >= 0) {
			List<String> block = shutdown.block();
			softly.assertThat(block.get(0)).as("the ERROR block's first line")
				.contains(" ERROR ")
				.contains("; halting with status 124. What blocks:");
			int hook = -1;
			for (int i = 0; i < block.size(); i++) {
				if (block.get(i).startsWith("  thread \"slow-exit-hook\" (another shutdown hook")) {
					hook = i;
					break;
				}
			}
			softly.assertThat(hook).as("the hook's thread in the ERROR block").isPositive();
			List<String> frames = new ArrayList<>();
			for (int i = hook + 1; hook > 0 && i < block.size() && block.get(i).strip().startsWith("at "); i++) {
				frames.add(block.get(i).strip());
			}
			softly.assertThat(frames).as("the hook's stack")
				.anyMatch((line) -> line.contains("io.github.gracefulshutdown.demo.SlowExitHook"));
			softly.assertThat(block).as("the ERROR block: no bean is stopping or being destroyed")
				.noneMatch((line) -> line.startsWith("  stopping ") || line.startsWith("  destroying "));
		}
		E2eFixture.assertAll(softly, shutdown.context);
	}

	// ---- A bean that never calls back: the phase times out, the verdict names it ---

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void aStopThatNeverCallsBackEndsItsPhaseWithinTheBudgetAndTheVerdictNamesIt() throws Exception {
		Shutdown shutdown = shutDownWithARequestInFlight("budget-never-stops", null, "--demo.never-stops=true");
		SoftAssertions softly = new SoftAssertions();
		assertRequestDrained(softly, shutdown);
		softly.assertThat(shutdown.exitValue).as("exit status (SIGTERM)").isEqualTo(SIGTERM_STATUS);
		softly.assertThat(shutdown.exitTime)
			.as("exit after SIGTERM, within drain-delay 0 s + deadline " + DEADLINE.toSeconds() + " s + slack")
			.isLessThan(DEADLINE.plusSeconds(3));
		softly.assertThat(shutdown.lines).as("NeverStops asked to stop")
			.anyMatch((line) -> line.contains("NeverStops: asked to stop; it will never call back"));
		softly.assertThat(shutdown.haltIndex).as("the watchdog's ERROR block").isNegative();
		softly.assertThat(shutdown.lastLine)
			.as("the last line: the verdict")
			.contains("Graceful shutdown TIMED_OUT in ")
			.contains("1 request drained")
			.contains("0 stragglers")
			.contains("; still running as the context closed: stopping bean 'neverStops' "
					+ "(io.github.gracefulshutdown.demo.NeverStops, phase 2147483647), for ")
			.doesNotContain("COMPLETED");
		softly.assertThat(shutdown.lines).as("a COMPLETED verdict")
			.noneMatch((line) -> line.contains("Graceful shutdown COMPLETED"));
		E2eFixture.assertAll(softly, shutdown.context);
	}

	// ---- Order: phases above ours stop after the drain -----------------------------

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void aBeanInTheHighestPhaseIsStillRunningWhileRequestsDrain() throws Exception {
		Shutdown shutdown = shutDownWithARequestInFlight("budget-order", null, "--demo.order-probe=true");
		int stopped = E2eFixture.indexOf(shutdown.lines, "OrderProbe: stopped (phase 2147483647)", 0);
		List<Span> probe = shutdown.units.spans(OrderProbe.JOB);
		Span request = shutdown.request();
		SoftAssertions softly = new SoftAssertions();
		assertRequestDrained(softly, shutdown);
		softly.assertThat(shutdown.draining).as("a Draining line").isNotNegative();
		softly.assertThat(stopped).as("OrderProbe's stop, after the Draining line").isGreaterThan(shutdown.draining);
		softly.assertThat(probe).as("the order probe's journal unit").hasSize(1).allMatch(Span::ended);
		if (probe.size() == 1 && probe.get(0).ended() && request != null && request.ended()) {
			softly.assertThat(probe.get(0).start()).as("the probe started before the request").isLessThan(request.start());
			softly.assertThat(probe.get(0).end())
				.as("the probe's stop (epoch ms), after the in-flight request ended at " + request.end())
				.isGreaterThanOrEqualTo(request.end());
		}
		if (stopped >= 0 && request != null && request.ended()) {
			softly.assertThat(E2eFixture.logMillis(shutdown.lines.get(stopped)))
				.as("OrderProbe's stop line (epoch ms), after the in-flight request ended at " + request.end())
				.isGreaterThanOrEqualTo(request.end());
		}
		softly.assertThat(shutdown.exitValue).as("exit status (SIGTERM)").isEqualTo(SIGTERM_STATUS);
		softly.assertThat(shutdown.lastLine).as("the last line: the verdict")
			.contains("Graceful shutdown COMPLETED in ")
			.contains("1 request drained");
		E2eFixture.assertAll(softly, shutdown.context);
	}

	// ---- Nothing blocks: unchanged -------------------------------------------------

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void withNothingThatBlocksTheVerdictIsCompletedAndTheStatusIsSigterms() throws Exception {
		Shutdown shutdown = shutDownWithARequestInFlight("budget-normal", null);
		SoftAssertions softly = new SoftAssertions();
		assertRequestDrained(softly, shutdown);
		softly.assertThat(shutdown.exitValue).as("exit status (SIGTERM)").isEqualTo(SIGTERM_STATUS);
		softly.assertThat(shutdown.exitTime).as("exit after SIGTERM, within the deadline").isLessThan(DEADLINE);
		softly.assertThat(shutdown.haltIndex).as("the watchdog's ERROR block").isNegative();
		softly.assertThat(shutdown.lastLine)
			.as("the last line: the verdict")
			.contains("Graceful shutdown COMPLETED in ")
			.contains("1 request drained")
			.contains("0 stragglers")
			.doesNotContain("still running");
		E2eFixture.assertAll(softly, shutdown.context);
	}

	// ---- Checks --------------------------------------------------------------------

	/**
	 * The watchdog halted: status 124 soon after the budget, one ERROR block that names
	 * the bean and shows its frame on the closing thread, and no verdict (the context
	 * never closed). The request in flight completed first and nothing else was cut.
	 */
	private static void assertHalted(SoftAssertions softly, Shutdown shutdown, String blockingLine, String bean,
			String frame) {
		assertRequestDrained(softly, shutdown);
		softly.assertThat(shutdown.exitValue).as("exit status (the watchdog's halt)").isEqualTo(HALT_STATUS);
		softly.assertThat(shutdown.exitTime)
			.as("exit after SIGTERM: the " + BUDGET.toSeconds() + " s budget + at most " + SLACK.toSeconds()
					+ " s, far below the " + BLOCK.toSeconds() + " s block")
			.isGreaterThanOrEqualTo(BUDGET.minusMillis(500))
			.isLessThan(BUDGET.plus(SLACK));
		softly.assertThat(E2eFixture.count(shutdown.lines, " ERROR ")).as("ERROR lines").isEqualTo(1);
		softly.assertThat(shutdown.haltIndex).as("the watchdog's ERROR block").isNotNegative();
		if (shutdown.haltIndex < 0) {
			return;
		}
		List<String> block = shutdown.block();
		String head = block.get(0);
		softly.assertThat(head).as("the ERROR block's first line")
			.contains(" ERROR ")
			.contains("; halting with status 124. What blocks:");
		softly.assertThat(block).as("the ERROR block names the bean").anyMatch((line) -> line.startsWith(bean));
		int closing = -1;
		for (int i = 0; i < block.size(); i++) {
			if (block.get(i).startsWith(CLOSING_THREAD)) {
				closing = i;
				break;
			}
		}
		softly.assertThat(closing).as("the closing thread in the ERROR block").isPositive();
		if (closing > 0) {
			List<String> frames = new ArrayList<>();
			for (int i = closing + 1; i < block.size() && block.get(i).strip().startsWith("at "); i++) {
				frames.add(block.get(i).strip());
			}
			softly.assertThat(frames).as("the closing thread's stack").anyMatch((line) -> line.contains(frame));
		}
		String text = String.join("\n", block);
		softly.assertThat(text).as("the ERROR block (finished work is not what blocks)")
			.doesNotContain("/slow")
			.doesNotContain("ledger-")
			.doesNotContain("straggler");
		int blocking = E2eFixture.indexOf(shutdown.lines, blockingLine, 0);
		softly.assertThat(blocking).as("'" + blockingLine + "', after the sequence said the request drained")
			.isGreaterThan(shutdown.sequenceEnded)
			.isGreaterThan(shutdown.draining);
		softly.assertThat(shutdown.haltIndex).as("the ERROR block, after '" + blockingLine + "'")
			.isGreaterThan(blocking);
		Span request = shutdown.request();
		if (blocking >= 0 && request != null && request.ended()) {
			softly.assertThat(E2eFixture.logMillis(shutdown.lines.get(blocking)))
				.as("'" + blockingLine + "' (epoch ms), after the in-flight request ended at " + request.end())
				.isGreaterThanOrEqualTo(request.end());
		}
		// The context never finished closing: the watchdog's block is the one verdict.
		softly.assertThat(shutdown.summaryIndex).as("the one verdict: the watchdog's block")
			.isEqualTo(shutdown.haltIndex);
		if (shutdown.haltIndex >= 0) {
			softly.assertThat(shutdown.lines.get(shutdown.haltIndex)).as("the verdict")
				.contains("Graceful shutdown TIMED_OUT in ");
		}
		softly.assertThat(shutdown.lines).as("a COMPLETED verdict")
			.noneMatch((line) -> line.contains("Graceful shutdown COMPLETED"));
	}

	/**
	 * The budget was stated, the request in flight at SIGTERM completed with a 200, and
	 * every unit of work that started has ended.
	 */
	private static void assertRequestDrained(SoftAssertions softly, Shutdown shutdown) {
		softly.assertThat(shutdown.lines).as("the budget stated at startup")
			.anyMatch((line) -> line.contains(BUDGET_LINE));
		softly.assertThat(shutdown.response.isStatus(200)).as("GET " + REQUEST + " in flight at SIGTERM: "
				+ shutdown.response).isTrue();
		Span request = shutdown.request();
		softly.assertThat(request).as("the request's journal unit").isNotNull();
		if (request != null) {
			softly.assertThat(request.inFlightAt(shutdown.sigtermAt)).as("the request in flight at SIGTERM").isTrue();
		}
		softly.assertThat(shutdown.units.unfinished()).as("units cut in half").isEmpty();
		softly.assertThat(shutdown.draining).as("the Draining line").isNotNegative();
		if (shutdown.draining >= 0) {
			softly.assertThat(shutdown.lines.get(shutdown.draining)).as("the Draining line").contains("1 request");
		}
		softly.assertThat(shutdown.sequenceEnded).as("'" + SEQUENCE_ENDED + "...', after the Draining line")
			.isGreaterThan(shutdown.draining);
		if (shutdown.sequenceEnded >= 0) {
			softly.assertThat(shutdown.lines.get(shutdown.sequenceEnded)).as("the sequence's own end")
				.contains("1 request drained")
				.contains("0 stragglers");
		}
	}

	// ---- Running one shutdown ------------------------------------------------------

	/** What to do between SIGTERM and the exit. */
	@FunctionalInterface
	private interface WhileClosing {

		void run(DemoProcess app, long pid) throws Exception;

	}

	/**
	 * Starts the app, starts {@code GET /slow?ms=2500}, sends SIGTERM once the request is
	 * in flight, and waits for the exit and the response.
	 */
	private Shutdown shutDownWithARequestInFlight(String name, WhileClosing whileClosing, String... more)
			throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		List<String> args = new ArrayList<>(List.of("--demo.journal=" + journal, "--demo.light.unit=300ms",
				"--demo.heavy.unit=600ms", "--demo.scheduled.enabled=false",
				"--spring.lifecycle.timeout-per-shutdown-phase=" + DEADLINE.toSeconds() + "s", "--server.port=0"));
		args.addAll(List.of(more));
		try (DemoProcess app = DemoProcess.start(name, args)) {
			long pid = E2eFixture.pid(app);
			int port = app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine("Started 2 background jobs: [", STARTUP_TIMEOUT);
			CompletableFuture<RawHttp.Outcome> response = new CompletableFuture<>();
			Thread client = new Thread(() -> response.complete(E2eFixture.get(port, REQUEST)), "client-" + name);
			client.setDaemon(true);
			client.start();
			app.awaitJournal(journal, "GET " + REQUEST + " in flight", (read) -> read.hasUnfinished("slow"),
					Duration.ofSeconds(10));

			long sigtermAt = app.sigterm();
			if (whileClosing != null) {
				whileClosing.run(app, pid);
			}
			Duration exitTime = app.awaitExit(BUDGET.plus(SLACK).plusSeconds(10));
			RawHttp.Outcome outcome = response.get(15, TimeUnit.SECONDS);
			Shutdown shutdown = new Shutdown(app, JournalFile.read(journal), outcome, sigtermAt, exitTime,
					app.exitValue());
			System.out.printf("E2E-METRIC %s: exitAfterSigterm=%d ms, exitValue=%d, request=%s in %d ms,"
					+ " haltBlockAt=%s, lastLine=%s%n", name, exitTime.toMillis(), shutdown.exitValue,
					outcome.brief(), outcome.elapsed().toMillis(), shutdown.haltIndex,
					shutdown.lastLine.substring(Math.max(0, shutdown.lastLine.indexOf(" : ") + 3)));
			return shutdown;
		}
	}

	/** What one shutdown left: the output, the journal, the response, the exit. */
	private static final class Shutdown {

		final List<String> lines;

		final JournalFile units;

		final RawHttp.Outcome response;

		final long sigtermAt;

		final Duration exitTime;

		final int exitValue;

		final int draining;

		final int sequenceEnded;

		final int haltIndex;

		final int summaryIndex;

		final String lastLine;

		final String context;

		Shutdown(DemoProcess app, JournalFile units, RawHttp.Outcome response, long sigtermAt, Duration exitTime,
				int exitValue) {
			this.lines = app.lines();
			this.units = units;
			this.response = response;
			this.sigtermAt = sigtermAt;
			this.exitTime = exitTime;
			this.exitValue = exitValue;
			this.draining = E2eFixture.indexOf(this.lines, "Draining ", 0);
			this.sequenceEnded = E2eFixture.indexOf(this.lines, SEQUENCE_ENDED, 0);
			this.haltIndex = E2eFixture.indexOf(this.lines, HALT_LINE, 0);
			this.summaryIndex = E2eFixture.summaryIndex(this.lines);
			String last = "";
			for (int i = this.lines.size() - 1; i >= 0; i--) {
				if (TIMESTAMPED.matcher(this.lines.get(i)).find()) {
					last = this.lines.get(i);
					break;
				}
			}
			this.lastLine = last;
			this.context = "\nexit value " + exitValue + " after " + exitTime.toMillis() + " ms; GET " + REQUEST
					+ ": " + response + "\n" + units + "\n" + app.tail(100);
		}

		/** The journal unit of the request in flight at SIGTERM. */
		Span request() {
			return this.units.spans("slow").stream().filter((span) -> span.start() <= this.sigtermAt).findFirst()
				.orElse(null);
		}

		/**
		 * The watchdog's ERROR block: its first line and every line after it up to the
		 * next log line.
		 */
		List<String> block() {
			List<String> block = new ArrayList<>();
			block.add(this.lines.get(this.haltIndex));
			for (int i = this.haltIndex + 1; i < this.lines.size() && !TIMESTAMPED.matcher(this.lines.get(i)).find();
					i++) {
				block.add(this.lines.get(i));
			}
			return block;
		}

	}

}
