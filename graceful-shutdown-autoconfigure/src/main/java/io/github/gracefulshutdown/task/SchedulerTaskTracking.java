package io.github.gracefulshutdown.task;

import java.util.concurrent.Future;
import java.util.concurrent.RunnableScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import io.github.gracefulshutdown.ShutdownInProgressException;
import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.TrackedJob;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobKind;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.core.task.SimpleAsyncTaskExecutor;
import org.springframework.core.task.TaskDecorator;
import org.springframework.scheduling.concurrent.SimpleAsyncTaskScheduler;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;

/**
 * Tracks the work of a scheduler bean. A task to run now is an {@link JobKind#ASYNC} job
 * from submission, as on an executor. A delayed or periodic task is a
 * {@link JobKind#SCHEDULED} job per run, begun when the run starts: a task due in an hour
 * does not hold up shutdown, and a periodic one is not one endless job. No delayed or
 * periodic run starts once shutdown has begun, as for {@code @Scheduled}.
 * <p>
 * The two schedulers reach a decorator differently. {@link ThreadPoolTaskScheduler}
 * decorates a delayed or periodic task once, when it is scheduled, and runs the result
 * each time; {@link SimpleAsyncTaskScheduler} hands each run to its executor when it is
 * due, decorated then, so that run is tracked from then. Runs that
 * {@link ScheduledTaskTracking} tracks ({@code @Scheduled}, named after the method) are
 * left to it.
 */
final class SchedulerTaskTracking implements TaskDecorator {

	private static final Log logger = LogFactory.getLog(SchedulerTaskTracking.class);

	private static final StackWalker STACK = StackWalker.getInstance();

	private final Object scheduler;

	private final String schedulerName;

	private final Supplier<DefaultJobRegistry> registry;

	private final Supplier<ShutdownToken> token;

	private final @Nullable TaskDecorator delegate;

	/**
	 * Creates the decorator.
	 * @param scheduler the scheduler it decorates tasks for
	 * @param schedulerName the scheduler's bean name, which names jobs that no
	 * {@code @Async} method submitted
	 * @param registry where work is tracked, asked for at the first task
	 * @param token tells when to stop starting runs
	 * @param delegate the user's own decorator, applied inside ours, or {@code null}
	 */
	SchedulerTaskTracking(Object scheduler, String schedulerName, Supplier<DefaultJobRegistry> registry,
			Supplier<ShutdownToken> token, @Nullable TaskDecorator delegate) {
		this.scheduler = scheduler;
		this.schedulerName = schedulerName;
		this.registry = registry;
		this.token = token;
		this.delegate = delegate;
	}

	@Override
	public Runnable decorate(Runnable runnable) {
		Runnable task = (this.delegate != null) ? this.delegate.decorate(runnable) : runnable;
		if (runnable instanceof TrackedTask) {
			return task;
		}
		if (ScheduledTaskTracking.tracksRun(runnable)) {
			return ScheduledTaskTracking.handingOff(task);
		}
		if (runnable instanceof RunnableScheduledFuture<?> future
				&& (future.isPeriodic() || future.getDelay(TimeUnit.NANOSECONDS) > 0)) {
			return new EachRun(task, future);
		}
		if (this.scheduler instanceof SimpleAsyncTaskScheduler && handedOffBySimpleScheduler()) {
			// One run of a task that it scheduled, due now and started on a thread of its own.
			return new TrackedTask(this.registry.get().track(this.schedulerName, JobKind.SCHEDULED, task), runnable);
		}
		return AsyncTaskTracking.track(this.registry.get(), this.schedulerName, task, runnable);
	}

	/**
	 * Whether SimpleAsyncTaskScheduler itself, rather than a caller of its
	 * {@code execute} or {@code submit}, hands the task over: the first frame outside
	 * those methods is then the scheduler's.
	 */
	private static boolean handedOffBySimpleScheduler() {
		String scheduler = SimpleAsyncTaskScheduler.class.getName();
		String executor = SimpleAsyncTaskExecutor.class.getName();
		String ours = SchedulerTaskTracking.class.getName();
		return STACK.walk((frames) -> frames
			.filter((frame) -> !frame.getClassName().equals(ours) && !frame.getClassName().equals(executor)
					&& !(frame.getClassName().equals(scheduler) && isSubmission(frame.getMethodName())))
			.findFirst()
			.map((frame) -> frame.getClassName().equals(scheduler))
			.orElse(false));
	}

	private static boolean isSubmission(String method) {
		return method.equals("execute") || method.equals("submit");
	}

	/**
	 * A delayed or periodic task of a {@link ThreadPoolTaskScheduler}: each run is a job
	 * of its own, on the thread that runs it.
	 */
	private final class EachRun implements Runnable {

		private final Runnable task;

		private final Future<?> future;

		EachRun(Runnable task, Future<?> future) {
			this.task = task;
			this.future = future;
		}

		@Override
		public void run() {
			SchedulerTaskTracking tracking = SchedulerTaskTracking.this;
			if (tracking.token.get().isShutdownRequested()) {
				skip("shutdown has begun");
				return;
			}
			TrackedJob job;
			try {
				job = tracking.registry.get().begin(tracking.schedulerName, JobKind.SCHEDULED);
			}
			catch (ShutdownInProgressException ex) {
				skip(ex.getMessage());
				return;
			}
			try (job) {
				TrackedTask.runMarked(this.task);
			}
		}

		private void skip(@Nullable String reason) {
			// Cancelled rather than left pending: the task is not scheduled again, and
			// whoever waits on its future hears that it will not run.
			this.future.cancel(false);
			logger.debug("Not starting a run of " + this.future + " on '" + SchedulerTaskTracking.this.schedulerName
					+ "': " + reason);
		}

	}

}
