package io.github.gracefulshutdown.task;

import java.util.Locale;
import java.util.function.Supplier;

import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobKind;
import org.jspecify.annotations.Nullable;

import org.springframework.core.task.TaskDecorator;

/**
 * Tracks every task submitted to an executor (Spring Boot's application task executor,
 * the one behind {@code @Async}, or any other executor bean) as an {@link JobKind#ASYNC}
 * job, from submission: a task still queued at shutdown is awaited too. It wraps the
 * user's own {@link TaskDecorator}, if any, rather than replacing it.
 * <p>
 * The job is named {@code bean.method} after the {@code @Async} method that submitted
 * it, found on the submitting thread's stack (a few microseconds per submission);
 * other work on the executor is named after the executor's bean,
 * {@code applicationTaskExecutor} for Spring Boot's. Once the shutdown deadline has
 * passed, submission throws {@link io.github.gracefulshutdown.ShutdownInProgressException}.
 */
public final class AsyncTaskTracking implements TaskDecorator {

	private static final String DEFAULT_EXECUTOR_NAME = "applicationTaskExecutor";

	private static final String CGLIB_MARKER = "$$SpringCGLIB$$";

	private static final StackWalker STACK = StackWalker.getInstance();

	private final Supplier<DefaultJobRegistry> registry;

	private final @Nullable TaskDecorator delegate;

	private final String executorName;

	/**
	 * Creates the decorator for Spring Boot's application task executor.
	 * @param registry where tasks are tracked
	 * @param delegate the user's own decorator, applied inside ours, or {@code null}
	 */
	public AsyncTaskTracking(DefaultJobRegistry registry, @Nullable TaskDecorator delegate) {
		this(() -> registry, delegate, DEFAULT_EXECUTOR_NAME);
	}

	/**
	 * Creates the decorator for an executor bean.
	 * @param registry where tasks are tracked, asked for at the first submission
	 * @param delegate the user's own decorator, applied inside ours, or {@code null}
	 * @param executorName the executor's bean name, for work no {@code @Async} method
	 * submitted
	 */
	AsyncTaskTracking(Supplier<DefaultJobRegistry> registry, @Nullable TaskDecorator delegate, String executorName) {
		this.registry = registry;
		this.delegate = delegate;
		this.executorName = executorName;
	}

	/**
	 * Returns this tracking for the executor bean of the given name: Spring Boot's
	 * builder applies the same customizer to every executor it builds, under whatever
	 * name the bean gets.
	 * @param executorName the executor's bean name
	 * @return a decorator that names other work after that bean
	 */
	AsyncTaskTracking named(String executorName) {
		return executorName.equals(this.executorName) ? this
				: new AsyncTaskTracking(this.registry, this.delegate, executorName);
	}

	@Override
	public Runnable decorate(Runnable runnable) {
		Runnable task = (this.delegate != null) ? this.delegate.decorate(runnable) : runnable;
		if (runnable instanceof TrackedTask) {
			// Handed on by an executor of ours that tracks it already.
			return task;
		}
		return track(this.registry.get(), this.executorName, task, runnable);
	}

	/**
	 * Tracks a task from now as an {@link JobKind#ASYNC} job.
	 * @param registry where the task is tracked
	 * @param executorName the name of the job when no {@code @Async} method submitted it
	 * @param task the task, decorated
	 * @param submitted what was submitted
	 * @return the tracked task
	 */
	static TrackedTask track(DefaultJobRegistry registry, String executorName, Runnable task, Object submitted) {
		String submitter = submitter();
		return new TrackedTask(registry.track((submitter != null) ? submitter : executorName, JobKind.ASYNC, task),
				submitted);
	}

	/**
	 * The proxied method on the submitting thread's stack: a CGLIB proxy's frame names
	 * the bean's class and the method called through it.
	 */
	static @Nullable String submitter() {
		return STACK.walk((frames) -> frames.filter((frame) -> frame.getClassName().contains(CGLIB_MARKER))
			.findFirst()
			.map((frame) -> beanName(frame.getClassName()) + "." + frame.getMethodName())
			.orElse(null));
	}

	/**
	 * The name a bean of the class would get by default: {@code com.example.Outer$Mailer}
	 * (or its CGLIB proxy) is {@code mailer}.
	 */
	static String beanName(String className) {
		int proxy = className.indexOf(CGLIB_MARKER);
		String type = (proxy >= 0) ? className.substring(0, proxy) : className;
		String simple = type.substring(Math.max(type.lastIndexOf('.'), type.lastIndexOf('$')) + 1);
		return simple.isEmpty() ? simple : simple.substring(0, 1).toLowerCase(Locale.ROOT) + simple.substring(1);
	}

}
