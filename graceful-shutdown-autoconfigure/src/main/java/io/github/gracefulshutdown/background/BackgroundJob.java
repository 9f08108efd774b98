package io.github.gracefulshutdown.background;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.function.IntConsumer;

import io.github.gracefulshutdown.FailurePolicy;
import io.github.gracefulshutdown.ShutdownInProgressException;
import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.TrackedJob;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobKind;
import io.github.gracefulshutdown.core.Units;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.util.ReflectionUtils;

/**
 * One {@code @Background} method and the loop that runs it on its own thread: invoke,
 * and on failure apply the policy, until the method returns or shutdown begins. The job
 * is tracked in the registry for the whole life of its thread, backoffs included.
 */
final class BackgroundJob implements Runnable {

	static final String RUNS_OBSERVATION = Units.BACKGROUND_RUNS;

	private static final Log logger = LogFactory.getLog(BackgroundJob.class);

	private final String name;

	private final Object bean;

	private final Method method;

	private final FailurePolicy policy;

	private final ShutdownToken token;

	private final BackgroundJobProcessor.Backoff backoff;

	private final IntConsumer shutdown;

	private final DefaultJobRegistry registry;

	private final CountDownLatch begun;

	private final CountDownLatch ended;

	private final ObservationRegistry observations;

	private TrackedJob job;

	/**
	 * Creates the job; its thread begins tracking it and then counts {@code begun} down,
	 * and counts {@code ended} down as its very last act.
	 * @param shutdown closes the application with the given exit status, for
	 * {@link FailurePolicy#SHUTDOWN}
	 */
	BackgroundJob(String name, Object bean, Method method, FailurePolicy policy, ShutdownToken token,
			DefaultJobRegistry registry, BackgroundJobProcessor.Backoff backoff, IntConsumer shutdown, CountDownLatch begun, CountDownLatch ended,
			ObservationRegistry observations) {
		this.name = name;
		this.bean = bean;
		this.method = method;
		this.policy = policy;
		this.token = token;
		this.backoff = backoff;
		this.shutdown = shutdown;
		this.registry = registry;
		this.begun = begun;
		this.ended = ended;
		this.observations = observations;
		ReflectionUtils.makeAccessible(method);
	}

	String name() {
		return this.name;
	}

	@Override
	public void run() {
		try {
			runTracked();
		}
		finally {
			this.ended.countDown();
		}
	}

	private void runTracked() {
		try {
			// Begun on this thread, so the deadline report shows this thread's stack.
			this.job = this.registry.begin(this.name, JobKind.BACKGROUND);
		}
		catch (ShutdownInProgressException ex) {
			// Shutdown ended between the processor's check and this thread's start.
			logger.info("Background job '" + this.name + "' not started: " + ex.getMessage());
			return;
		}
		finally {
			this.begun.countDown();
		}
		int failures = 0;
		@Nullable Throwable lastFailure = null;
		try {
			while (!this.token.isShutdownRequested()) {
				long startNanos = System.nanoTime();
				try {
					if (!invoke()) {
						return;
					}
					if (!this.token.isShutdownRequested()) {
						logger.info("Background job '" + this.name + "' returned before shutdown; it will not be restarted");
					}
					return;
				}
				catch (Throwable ex) {
					if (ex instanceof VirtualMachineError error) {
						throw error;
					}
					// A run that outlived the longest backoff was healthy: start counting afresh.
					failures = (System.nanoTime() - startNanos > this.backoff.max().toNanos()) ? 1 : failures + 1;
					Outcome outcome = handleFailure(ex, failures);
					if (outcome != Outcome.RESTART) {
						lastFailure = (outcome == Outcome.FAILED) ? ex : null;
						return;
					}
				}
			}
		}
		finally {
			if (lastFailure != null) {
				this.job.fail(lastFailure);
			}
			else {
				this.job.close();
			}
		}
	}

	/**
	 * Applies the policy to a failure.
	 * @return what becomes of the job
	 */
	private Outcome handleFailure(Throwable ex, int failures) {
		switch (this.policy) {
			case RESTART -> {
				if (this.token.isShutdownRequested()) {
					logger.error("Background job '" + this.name + "' failed during shutdown; not restarting it", ex);
					return Outcome.FAILED;
				}
				Duration delay = this.backoff.delay(failures);
				logger.error("Background job '" + this.name + "' failed (failure " + failures + "); restarting in "
						+ delay.toMillis() + " ms", ex);
				this.job.progress("restarting in " + delay.toMillis() + " ms after failure " + failures + ": " + ex);
				// Sleeping on the token: shutdown during the backoff ends the job at once.
				if (!this.token.sleep(delay)) {
					this.job.progress("stopped during the restart backoff");
					return Outcome.STOPPED;
				}
				this.job.progress("restarted after failure " + failures);
				return Outcome.RESTART;
			}
			case STOP -> {
				logger.error("Background job '" + this.name + "' failed; stopped by its policy (onFailure = STOP)", ex);
				return Outcome.FAILED;
			}
			case SHUTDOWN -> {
				logger.error("Background job '" + this.name
						+ "' failed; shutting the application down (onFailure = SHUTDOWN)", ex);
				// On a thread of its own: closing the context waits for this job to end.
				Thread trigger = new Thread(() -> this.shutdown.accept(1), "background-shutdown-" + this.name);
				// A thread started from a virtual thread would be a daemon, and the JVM could
				// end with status 0 before this one reaches System.exit(1).
				trigger.setDaemon(false);
				trigger.start();
				return Outcome.FAILED;
			}
			default -> throw new IllegalStateException("Unknown policy " + this.policy);
		}
	}

	/**
	 * Runs the method once, observed as {@code graceful.shutdown.background.runs} with
	 * the job's name and how the run ended: {@code returned}, {@code stopped} (by the
	 * token or an interrupt during shutdown) or {@code failed}.
	 * @return {@code true} if the method returned, {@code false} if it ended with a stop
	 * signal during shutdown, which is not a failure
	 * @throws Throwable what the method threw otherwise
	 */
	private boolean invoke() throws Throwable {
		Observation observation = Observation.createNotStarted(RUNS_OBSERVATION, this.observations)
			.lowCardinalityKeyValue("job", this.name)
			.contextualName("background " + this.name)
			.start();
		String outcome = "returned";
		Object[] args = (this.method.getParameterCount() == 0) ? new Object[0] : new Object[] { this.token };
		try (Observation.Scope scope = observation.openScope()) {
			this.method.invoke(this.bean, args);
			return true;
		}
		catch (InvocationTargetException ex) {
			Throwable failure = ex.getTargetException();
			if (this.token.isShutdownRequested() && isStopSignal(failure)) {
				outcome = "stopped";
				return false;
			}
			outcome = "failed";
			observation.error(failure);
			throw failure;
		}
		finally {
			observation.lowCardinalityKeyValue("outcome", outcome).stop();
		}
	}

	private static boolean isStopSignal(Throwable ex) {
		return ex instanceof InterruptedException || ex instanceof ShutdownInProgressException
				|| Thread.currentThread().isInterrupted();
	}

	private enum Outcome {

		RESTART, STOPPED, FAILED

	}

}
