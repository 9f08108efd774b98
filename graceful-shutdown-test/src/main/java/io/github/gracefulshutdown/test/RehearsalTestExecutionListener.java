package io.github.gracefulshutdown.test;

import org.jspecify.annotations.Nullable;

import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.Ordered;
import org.springframework.test.annotation.DirtiesContext.HierarchyMode;
import org.springframework.test.context.TestContext;
import org.springframework.test.context.support.AbstractTestExecutionListener;

/**
 * Takes a context that a rehearsal closed out of Spring's context cache at once, as
 * {@code @DirtiesContext} would. Without it the cache hands the closed context to the
 * next listener and the next test, and Spring Framework 7, which restarts a cached
 * context that is not running, fails on it.
 */
final class RehearsalTestExecutionListener extends AbstractTestExecutionListener {

	// The test method running on this thread, whose context a rehearsal may close.
	private static final ThreadLocal<@Nullable TestContext> CURRENT = new ThreadLocal<>();

	@Override
	public int getOrder() {
		return Ordered.HIGHEST_PRECEDENCE;
	}

	@Override
	public void beforeTestMethod(TestContext testContext) {
		CURRENT.set(testContext);
	}

	@Override
	public void afterTestMethod(TestContext testContext) {
		CURRENT.remove();
	}

	/**
	 * Returns what to run once the context is closed: if it is the current test's
	 * context, mark it dirty. Asked before the close, while the cache still hands it out.
	 */
	static Runnable forgetAfterClose(ConfigurableApplicationContext context) {
		TestContext testContext = CURRENT.get();
		if (testContext == null || !testContext.hasApplicationContext()
				|| testContext.getApplicationContext() != context) {
			return () -> {
			};
		}
		return () -> testContext.markApplicationContextDirty(HierarchyMode.EXHAUSTIVE);
	}

}
