package io.github.gracefulshutdown.task;

import java.lang.reflect.Field;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledFuture;
import java.util.function.Supplier;

import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.TrackedJob;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobKind;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.core.Ordered;
import org.springframework.scheduling.TaskScheduler;
import org.springframework.scheduling.Trigger;
import org.springframework.scheduling.annotation.SchedulingConfigurer;
import org.springframework.scheduling.config.ScheduledTaskRegistrar;
import org.springframework.scheduling.support.DelegatingErrorHandlingRunnable;
import org.springframework.util.ReflectionUtils;

/**
 * Tracks every {@code @Scheduled} execution as a {@link JobKind#SCHEDULED} job named
 * {@code bean.method}, and starts no new execution once shutdown has begun: an execution
 * that is running when the token is cancelled runs to its end inside the deadline.
 * <p>
 * It wraps the scheduler the registrar uses (the user's, if a configurer of theirs set
 * one, or Spring Boot's {@code taskScheduler}), so the scheduler's own task decorator is
 * left as it is. It runs after the user's own configurers.
 * <p>
 * The scheduler beans track their own work too ({@link ExecutorTrackingPostProcessor}),
 * but leave the runs they get from here to this class, which names them after their
 * method: a run is one job, never two.
 */
public final class ScheduledTaskTracking implements SchedulingConfigurer, Ordered {

	private static final Log logger = LogFactory.getLog(ScheduledTaskTracking.class);

	// Set while the registrar, or a run of ours, hands a run to a scheduler on this
	// thread; unset while the method itself runs, since what it submits is not ours.
	private static final ThreadLocal<Boolean> HANDING_OFF = new ThreadLocal<>();

	// SimpleAsyncTaskScheduler hands each due run to its executor wrapped in one of these.
	private static final @Nullable Field ERROR_HANDLING_DELEGATE = errorHandlingDelegate();

	private final DefaultJobRegistry registry;

	private final ShutdownToken token;

	private final ListableBeanFactory beanFactory;

	/**
	 * Creates the configurer.
	 * @param registry where executions are tracked
	 * @param token tells when to stop starting executions
	 * @param beanFactory where to find the scheduler when no configurer has set one
	 */
	public ScheduledTaskTracking(DefaultJobRegistry registry, ShutdownToken token, ListableBeanFactory beanFactory) {
		this.registry = registry;
		this.token = token;
		this.beanFactory = beanFactory;
	}

	@Override
	public void configureTasks(ScheduledTaskRegistrar registrar) {
		TaskScheduler scheduler = registrar.getScheduler();
		if (scheduler == null) {
			scheduler = defaultScheduler();
		}
		if (scheduler != null && !(scheduler instanceof TrackingScheduler)) {
			registrar.setTaskScheduler(new TrackingScheduler(scheduler));
		}
	}

	private @Nullable TaskScheduler defaultScheduler() {
		// As Spring resolves it after the configurers: the only TaskScheduler, or the one
		// named 'taskScheduler'.
		String[] names = this.beanFactory.getBeanNamesForType(TaskScheduler.class);
		if (names.length == 1) {
			return this.beanFactory.getBean(names[0], TaskScheduler.class);
		}
		if (this.beanFactory.containsBean("taskScheduler")) {
			return this.beanFactory.getBean("taskScheduler", TaskScheduler.class);
		}
		logger.warn("@Scheduled executions are not tracked: no unique TaskScheduler and none named 'taskScheduler'");
		return null;
	}

	@Override
	public int getOrder() {
		return Ordered.LOWEST_PRECEDENCE;
	}

	Runnable track(Runnable task) {
		return new Run(name(task), task);
	}

	/**
	 * Returns whether a scheduler is decorating one of our runs, which it must leave
	 * untracked: one that the registrar hands it on this thread now, one that it
	 * schedules from a run of ours ({@code ThreadPoolTaskScheduler} schedules each next
	 * run of a cron or trigger task at the end of the run before), or the task that
	 * {@code SimpleAsyncTaskScheduler} hands to its executor when a run of ours is due.
	 * @param runnable the task the scheduler decorates
	 * @return {@code true} if the run is tracked here
	 */
	static boolean tracksRun(Runnable runnable) {
		return HANDING_OFF.get() != null
				|| (runnable instanceof DelegatingErrorHandlingRunnable handoff && delegate(handoff) instanceof Run);
	}

	/**
	 * Returns what a scheduler should run for one of our runs: the run, marked so that a
	 * next run the scheduler schedules from it is known as ours too.
	 * @param task the scheduler's task for the run
	 * @return the task to run instead
	 */
	static Runnable handingOff(Runnable task) {
		return () -> handOff(() -> {
			task.run();
			return null;
		});
	}

	private static <T> T handOff(Supplier<T> action) {
		Boolean previous = HANDING_OFF.get();
		HANDING_OFF.set(Boolean.TRUE);
		try {
			return action.get();
		}
		finally {
			restore(previous);
		}
	}

	private static void restore(@Nullable Boolean previous) {
		if (previous != null) {
			HANDING_OFF.set(previous);
		}
		else {
			HANDING_OFF.remove();
		}
	}

	private static @Nullable Object delegate(DelegatingErrorHandlingRunnable runnable) {
		Field field = ERROR_HANDLING_DELEGATE;
		return (field != null) ? ReflectionUtils.getField(field, runnable) : null;
	}

	private static @Nullable Field errorHandlingDelegate() {
		// Without it, such a run is still one job (Run sees that it runs inside one), named
		// after the scheduler instead of the method.
		try {
			Field field = ReflectionUtils.findField(DelegatingErrorHandlingRunnable.class, "delegate", Runnable.class);
			if (field != null) {
				ReflectionUtils.makeAccessible(field);
			}
			return field;
		}
		catch (RuntimeException ex) {
			return null;
		}
	}

	/**
	 * Spring describes a scheduled method's runnable by its qualified method name,
	 * {@code com.example.Reports.nightly}; the job is named {@code reports.nightly}.
	 */
	static String name(Runnable task) {
		String qualified = String.valueOf(task);
		int method = qualified.lastIndexOf('.');
		if (method <= 0 || qualified.indexOf('@') >= 0 || qualified.indexOf(' ') >= 0) {
			return "scheduled";
		}
		return AsyncTaskTracking.beanName(qualified.substring(0, method)) + qualified.substring(method);
	}

	/**
	 * One execution of a {@code @Scheduled} method: a job of its own, unless it runs
	 * inside work that is tracked already.
	 */
	private final class Run implements Runnable {

		private final String name;

		private final Runnable task;

		Run(String name, Runnable task) {
			this.name = name;
			this.task = task;
		}

		@Override
		public void run() {
			if (ScheduledTaskTracking.this.token.isShutdownRequested()) {
				logger.debug("Not starting @Scheduled " + this.name + ": shutdown has begun");
				return;
			}
			if (TrackedTask.isRunning()) {
				// A scheduler that could not tell this run from its other work has begun
				// a job for it.
				runMethod();
				return;
			}
			TrackedJob job = ScheduledTaskTracking.this.registry.begin(this.name, JobKind.SCHEDULED);
			try (job) {
				runMethod();
			}
		}

		private void runMethod() {
			Boolean handingOff = HANDING_OFF.get();
			HANDING_OFF.remove();
			try {
				this.task.run();
			}
			finally {
				restore(handingOff);
			}
		}

		@Override
		public String toString() {
			return this.task.toString();
		}

	}

	/**
	 * The registrar's scheduler (Spring's router to the scheduler each method names),
	 * with every task it schedules tracked. While it hands a run over, the scheduler is
	 * told that the run is tracked here.
	 */
	private final class TrackingScheduler implements TaskScheduler {

		private final TaskScheduler delegate;

		TrackingScheduler(TaskScheduler delegate) {
			this.delegate = delegate;
		}

		@Override
		public @Nullable ScheduledFuture<?> schedule(Runnable task, Trigger trigger) {
			return handOff(() -> this.delegate.schedule(track(task), trigger));
		}

		@Override
		public ScheduledFuture<?> schedule(Runnable task, Instant startTime) {
			return handOff(() -> this.delegate.schedule(track(task), startTime));
		}

		@Override
		public ScheduledFuture<?> scheduleAtFixedRate(Runnable task, Instant startTime, Duration period) {
			return handOff(() -> this.delegate.scheduleAtFixedRate(track(task), startTime, period));
		}

		@Override
		public ScheduledFuture<?> scheduleAtFixedRate(Runnable task, Duration period) {
			return handOff(() -> this.delegate.scheduleAtFixedRate(track(task), period));
		}

		@Override
		public ScheduledFuture<?> scheduleWithFixedDelay(Runnable task, Instant startTime, Duration delay) {
			return handOff(() -> this.delegate.scheduleWithFixedDelay(track(task), startTime, delay));
		}

		@Override
		public ScheduledFuture<?> scheduleWithFixedDelay(Runnable task, Duration delay) {
			return handOff(() -> this.delegate.scheduleWithFixedDelay(track(task), delay));
		}

		@Override
		public Clock getClock() {
			return this.delegate.getClock();
		}

	}

}
