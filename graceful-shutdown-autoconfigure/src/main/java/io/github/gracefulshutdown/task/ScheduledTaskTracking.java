package io.github.gracefulshutdown.task;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledFuture;

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

/**
 * Tracks every {@code @Scheduled} execution as a {@link JobKind#SCHEDULED} job named
 * {@code bean.method}, and starts no new execution once shutdown has begun: an execution
 * that is running when the token is cancelled runs to its end inside the deadline.
 * <p>
 * It wraps the scheduler the registrar uses (the user's, if a configurer of theirs set
 * one, or Spring Boot's {@code taskScheduler}), so the scheduler itself and its own task
 * decorator are left as they are. It runs after the user's own configurers.
 */
public final class ScheduledTaskTracking implements SchedulingConfigurer, Ordered {

	private static final Log logger = LogFactory.getLog(ScheduledTaskTracking.class);

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
		String name = name(task);
		return () -> {
			if (this.token.isShutdownRequested()) {
				logger.debug("Not starting @Scheduled " + name + ": shutdown has begun");
				return;
			}
			TrackedJob job = this.registry.begin(name, JobKind.SCHEDULED);
			try (job) {
				task.run();
			}
		};
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
	 * The registrar's scheduler, with every task it schedules tracked.
	 */
	private final class TrackingScheduler implements TaskScheduler {

		private final TaskScheduler delegate;

		TrackingScheduler(TaskScheduler delegate) {
			this.delegate = delegate;
		}

		@Override
		public ScheduledFuture<?> schedule(Runnable task, Trigger trigger) {
			return this.delegate.schedule(track(task), trigger);
		}

		@Override
		public ScheduledFuture<?> schedule(Runnable task, Instant startTime) {
			return this.delegate.schedule(track(task), startTime);
		}

		@Override
		public ScheduledFuture<?> scheduleAtFixedRate(Runnable task, Instant startTime, Duration period) {
			return this.delegate.scheduleAtFixedRate(track(task), startTime, period);
		}

		@Override
		public ScheduledFuture<?> scheduleAtFixedRate(Runnable task, Duration period) {
			return this.delegate.scheduleAtFixedRate(track(task), period);
		}

		@Override
		public ScheduledFuture<?> scheduleWithFixedDelay(Runnable task, Instant startTime, Duration delay) {
			return this.delegate.scheduleWithFixedDelay(track(task), startTime, delay);
		}

		@Override
		public ScheduledFuture<?> scheduleWithFixedDelay(Runnable task, Duration delay) {
			return this.delegate.scheduleWithFixedDelay(track(task), delay);
		}

		@Override
		public java.time.Clock getClock() {
			return this.delegate.getClock();
		}

	}

}
