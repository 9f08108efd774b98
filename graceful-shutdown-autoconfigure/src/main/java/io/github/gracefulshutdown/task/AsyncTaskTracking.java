package io.github.gracefulshutdown.task;

import java.util.Locale;

import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobKind;
import org.jspecify.annotations.Nullable;

import org.springframework.core.task.TaskDecorator;

/**
 * Tracks every task submitted to Spring Boot's application task executor (the one behind
 * {@code @Async}) as an {@link JobKind#ASYNC} job, from submission: a task still queued
 * at shutdown is awaited too. It wraps the user's own {@link TaskDecorator}, if any,
 * rather than replacing it.
 * <p>
 * The job is named {@code bean.method} after the {@code @Async} method that submitted
 * it, found on the submitting thread's stack (a few microseconds per submission);
 * other work on the executor is named {@code applicationTaskExecutor}. Once the shutdown
 * deadline has passed, submission throws
 * {@link io.github.gracefulshutdown.ShutdownInProgressException}.
 */
public final class AsyncTaskTracking implements TaskDecorator {

	private static final String CGLIB_MARKER = "$$SpringCGLIB$$";

	private static final StackWalker STACK = StackWalker.getInstance();

	private final DefaultJobRegistry registry;

	private final @Nullable TaskDecorator delegate;

	/**
	 * Creates the decorator.
	 * @param registry where tasks are tracked
	 * @param delegate the user's own decorator, applied inside ours, or {@code null}
	 */
	public AsyncTaskTracking(DefaultJobRegistry registry, @Nullable TaskDecorator delegate) {
		this.registry = registry;
		this.delegate = delegate;
	}

	@Override
	public Runnable decorate(Runnable runnable) {
		Runnable task = (this.delegate != null) ? this.delegate.decorate(runnable) : runnable;
		String submitter = submitter();
		return this.registry.track((submitter != null) ? submitter : "applicationTaskExecutor", JobKind.ASYNC, task);
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
