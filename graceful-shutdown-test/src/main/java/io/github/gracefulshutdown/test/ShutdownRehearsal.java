package io.github.gracefulshutdown.test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.core.ShutdownSummary;

import org.springframework.context.ApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Shuts a context down the way SIGTERM does, in a test, and returns the verdict:
 * <pre>{@code
 * @SpringBootTest
 * class ImportShutdownTests {
 *
 *     @Test
 *     void importsHonourTheTokenWithinTwoSeconds(@Autowired ConfigurableApplicationContext context,
 *             @Autowired Imports imports) {
 *         imports.start(3);
 *         ShutdownVerdict verdict = ShutdownRehearsal.shutDown(context);
 *         assertThat(verdict).isCompleted().tookLessThan(Duration.ofSeconds(2)).hasDrained("job", 3).hasNoStragglers();
 *     }
 *
 * }
 * }</pre>
 * The context runs the whole sequence: readiness refuses traffic, the token is
 * cancelled, every participant drains within the deadline, stragglers are reported and
 * interrupted, and the rest of the context closes. The drain delay is skipped in a test
 * context unless {@code graceful-shutdown.drain-delay-in-tests=true}. A context that
 * Spring's TestContext framework manages is taken out of its cache, so the next test gets
 * a fresh one.
 */
public final class ShutdownRehearsal {

	// Room, after close() returns, for the verdict, which is given as the close ends.
	private static final Duration VERDICT_WAIT = Duration.ofSeconds(10);

	private ShutdownRehearsal() {
	}

	/**
	 * Closes the context as Spring Boot's shutdown hook does on SIGTERM, and waits for
	 * the verdict.
	 * @param context a running context with the starter's auto-configuration
	 * @return the verdict
	 * @throws IllegalArgumentException if the context cannot be closed
	 * @throws IllegalStateException if the context is already closed, or shuts down
	 * without the starter's coordinator
	 */
	public static ShutdownVerdict shutDown(ApplicationContext context) {
		if (!(context instanceof ConfigurableApplicationContext closeable)) {
			throw new IllegalArgumentException("context must be a ConfigurableApplicationContext to be closed, but is a "
					+ context.getClass().getName());
		}
		if (!closeable.isActive()) {
			throw new IllegalStateException("The context " + context.getDisplayName() + " is already closed: "
					+ "rehearse the shutdown of a running context, once");
		}
		ShutdownCoordinator coordinator = closeable.getBeanProvider(ShutdownCoordinator.class).getIfAvailable();
		if (coordinator == null) {
			throw new IllegalStateException("The context has no ShutdownCoordinator, so there is no graceful shutdown "
					+ "to rehearse: graceful-shutdown.enabled is false, or its auto-configuration is not applied "
					+ "(graceful-shutdown-spring-boot-autoconfigure on the classpath, @SpringBootTest or "
					+ "@EnableAutoConfiguration)");
		}
		CompletableFuture<ShutdownSummary> summary = coordinator.whenSummarized();
		Runnable forget = RehearsalTestExecutionListener.forgetAfterClose(closeable);
		try {
			closeable.close();
		}
		finally {
			forget.run();
		}
		return new ShutdownVerdict(await(summary));
	}

	private static ShutdownSummary await(CompletableFuture<ShutdownSummary> summary) {
		try {
			return summary.get(VERDICT_WAIT.toMillis(), TimeUnit.MILLISECONDS);
		}
		catch (TimeoutException ex) {
			throw new IllegalStateException("The context closed but the shutdown gave no verdict within "
					+ VERDICT_WAIT.toSeconds() + " s: it never began (was the coordinator started?)", ex);
		}
		catch (ExecutionException ex) {
			throw new IllegalStateException("The shutdown failed", ex.getCause());
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException("Interrupted while waiting for the verdict", ex);
		}
	}

}
