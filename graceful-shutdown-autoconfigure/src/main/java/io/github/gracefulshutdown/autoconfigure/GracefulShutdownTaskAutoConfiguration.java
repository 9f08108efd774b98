package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.task.AsyncTaskTracking;
import io.github.gracefulshutdown.task.ExecutorTrackingPostProcessor;
import io.github.gracefulshutdown.task.ScheduledTaskTracking;

import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.task.TaskExecutionAutoConfiguration;
import org.springframework.boot.autoconfigure.task.TaskSchedulingAutoConfiguration;
import org.springframework.boot.task.SimpleAsyncTaskExecutorCustomizer;
import org.springframework.boot.task.ThreadPoolTaskExecutorCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.core.task.TaskDecorator;

/**
 * Auto-configuration that makes every task of every executor and scheduler bean a tracked
 * job, inside the one shutdown budget: {@code @Async} and {@code @Scheduled} executions,
 * on Spring Boot's auto-configured executor and scheduler or on the application's own,
 * and whatever else is submitted to them. Off with
 * {@code graceful-shutdown.track-async=false}.
 * <p>
 * Spring Boot's customizers decorate the executors its builders make, beans or not; the
 * {@link ExecutorTrackingPostProcessor} decorates every other executor and scheduler
 * bean, built with {@code new} as tutorials do, and warns at startup about any it cannot
 * track. The executors also keep accepting tasks after the context starts to close: a
 * request that is still draining may hand work to {@code @Async}, and refusing it would
 * lose it. The work is tracked and awaited instead, so Spring's own executor shutdown,
 * later, finds nothing left to wait for.
 */
@AutoConfiguration(after = GracefulShutdownAutoConfiguration.class,
		before = { TaskExecutionAutoConfiguration.class, TaskSchedulingAutoConfiguration.class })
@ConditionalOnBean(ShutdownCoordinator.class)
@ConditionalOnBooleanProperty(name = "graceful-shutdown.track-async", matchIfMissing = true)
public final class GracefulShutdownTaskAutoConfiguration {

	@Bean
	static ExecutorTrackingPostProcessor executorTrackingPostProcessor(ObjectProvider<DefaultJobRegistry> jobRegistry,
			ObjectProvider<ShutdownToken> shutdownToken) {
		// A post-processor is created before most beans: the registry and the token are
		// asked for at the first task.
		return new ExecutorTrackingPostProcessor(jobRegistry, shutdownToken);
	}

	@Bean
	ThreadPoolTaskExecutorCustomizer gracefulShutdownThreadPoolTaskExecutorCustomizer(DefaultJobRegistry jobRegistry,
			ObjectProvider<TaskDecorator> taskDecorator) {
		return (executor) -> {
			// Wraps the decorator Spring Boot applied (the only TaskDecorator bean, if any).
			executor.setTaskDecorator(new AsyncTaskTracking(jobRegistry, taskDecorator.getIfUnique()));
			executor.setAcceptTasksAfterContextClose(true);
		};
	}

	@Bean
	SimpleAsyncTaskExecutorCustomizer gracefulShutdownSimpleAsyncTaskExecutorCustomizer(DefaultJobRegistry jobRegistry,
			ObjectProvider<TaskDecorator> taskDecorator) {
		return (executor) -> executor
			.setTaskDecorator(new AsyncTaskTracking(jobRegistry, taskDecorator.getIfUnique()));
	}

	@Bean
	ScheduledTaskTracking scheduledTaskTracking(DefaultJobRegistry jobRegistry, ShutdownToken shutdownToken,
			ListableBeanFactory beanFactory) {
		return new ScheduledTaskTracking(jobRegistry, shutdownToken, beanFactory);
	}

}
