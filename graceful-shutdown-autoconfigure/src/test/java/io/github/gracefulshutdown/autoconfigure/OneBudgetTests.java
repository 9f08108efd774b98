package io.github.gracefulshutdown.autoconfigure;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.TrackedJob;
import io.github.gracefulshutdown.core.BudgetedLifecycleProcessor;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.core.ShutdownState;
import io.github.gracefulshutdown.core.ShutdownWatchdog;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationContextAware;
import org.springframework.context.Lifecycle;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.support.DefaultLifecycleProcessor;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The one budget: the sequence runs before any lifecycle bean stops, later phases get
 * what is left of it, the verdict names what was still running when the context closed,
 * and the watchdog bounds what no timeout can.
 */
@ExtendWith(OutputCaptureExtension.class)
class OneBudgetTests {

	private final ApplicationContextRunner runner = runner(() -> new ShutdownWatchdog(HALTS::add));

	// What the watchdog would have halted with; it must never halt the test JVM.
	private static final List<Integer> HALTS = new CopyOnWriteArrayList<>();

	@BeforeEach
	void noHaltYet() {
		HALTS.clear();
	}

	@Test
	void replacesSpringBootsLifecycleProcessorAndStatesTheBudgetOnce(CapturedOutput output) {
		this.runner.withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=30s",
				"graceful-shutdown.drain-delay=5s")
			.run((context) -> assertThat(context).getBean("lifecycleProcessor")
				.isInstanceOf(BudgetedLifecycleProcessor.class));
		assertThat(output).containsOnlyOnce("Graceful shutdown budget: drain-delay 5 s (graceful-shutdown.drain-delay in ")
			.containsOnlyOnce(") + deadline 30 s + margin 5 s = 40 s; terminationGracePeriodSeconds must be at least 40");
	}

	@Test
	void theSequenceEndsBeforeABeanInTheHighestPhaseStopsWhichRunsWhileWorkDrains() {
		this.runner.withBean("listenerContainer", Probe.class, () -> new Probe(Integer.MAX_VALUE))
			.run((context) -> {
				Probe probe = context.getBean(Probe.class);
				ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
				DefaultJobRegistry registry = context.getBean(DefaultJobRegistry.class);
				ShutdownToken token = context.getBean(ShutdownToken.class);
				AtomicReference<Boolean> probeRunningWhileDraining = new AtomicReference<>();
				TrackedJob job = registry.begin("consumer-work");
				Thread worker = new Thread(() -> {
					try (job) {
						token.await(Duration.ofSeconds(30));
						sleep(300);
						probeRunningWhileDraining.set(probe.isRunning());
					}
				}, "worker");
				worker.start();
				context.close();
				assertThat(probeRunningWhileDraining.get()).as("bean in phase MAX_VALUE running while draining")
					.isTrue();
				assertThat(probe.stateWhenStopped.get()).as("sequence already over when the bean stopped")
					.isEqualTo(ShutdownState.DRAINING);
				assertThat(probe.jobsWhenStopped.get()).isZero();
				assertThat(coordinator.state()).isEqualTo(ShutdownState.COMPLETED);
			});
	}

	@Test
	void aBeanThatNeverCallsBackGetsWhatIsLeftOfTheBudgetAndTheVerdictNamesIt(CapturedOutput output) {
		this.runner.withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=2s")
			.withBean("neverStops", NeverStops.class)
			.run((context) -> {
				ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
				long start = System.nanoTime();
				context.close();
				Duration took = Duration.ofNanos(System.nanoTime() - start);
				// Spring Boot alone would wait its 2 s per phase; the sequence took nothing,
				// so the phase gets the 2 s that are left, not more.
				assertThat(took).isBetween(Duration.ofMillis(1500), Duration.ofMillis(4000));
				assertThat(coordinator.state()).isEqualTo(ShutdownState.TIMED_OUT);
				assertThat(coordinator.whenFinished()).isCompletedWithValue(ShutdownState.TIMED_OUT);
			});
		assertThat(output).containsPattern("Shutdown phase 2147483647 ends with 1 bean still running after timeout "
				+ "of (19|20)\\d\\dms: \\[neverStops\\]");
		assertThat(lastLine(output)).contains("Graceful shutdown TIMED_OUT in")
			.contains("still running as the context closed: stopping bean 'neverStops' (")
			.contains(NeverStops.class.getName() + ", phase 2147483647)");
		assertThat(HALTS).isEmpty();
	}

	@Test
	void phasesAfterALongDrainShareWhatIsLeftRatherThanEachGettingTheirOwnTimeout(CapturedOutput output) {
		this.runner.withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=1500ms")
			.withBean("neverStops", NeverStops.class)
			.run((context) -> {
				DefaultJobRegistry registry = context.getBean(DefaultJobRegistry.class);
				ShutdownToken token = context.getBean(ShutdownToken.class);
				TrackedJob job = registry.begin("slow");
				Thread worker = new Thread(() -> {
					try (job) {
						token.await(Duration.ofSeconds(30));
						sleep(1000);
					}
				}, "worker");
				worker.start();
				long start = System.nanoTime();
				context.close();
				// 1 s of draining, then the phase gets the 0.5 s left, or the 1 s floor.
				assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(2800));
			});
		assertThat(output).containsPattern("still running after timeout of (4|5|6|7|8|9|10)\\d\\dms: \\[neverStops\\]");
	}

	@Test
	void theWatchdogNamesTheBeanWhoseStopBlocksAndHaltsAtTheBudgetPlusMargin(CapturedOutput output) throws Exception {
		BlockingStop blocking = new BlockingStop();
		runner(() -> new ShutdownWatchdog((status) -> {
			HALTS.add(status);
			// The JVM would be gone; here the blocked close is let go.
			blocking.release.countDown();
		})).withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=300ms",
				"graceful-shutdown.watchdog-margin=300ms")
			.withBean("blockingStop", BlockingStop.class, () -> blocking)
			.run((context) -> {
				long start = System.nanoTime();
				context.close();
				assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(550),
						Duration.ofMillis(3000));
			});
		assertThat(HALTS).containsExactly(ShutdownWatchdog.HALT_STATUS);
		assertThat(output).containsPattern("Graceful shutdown TIMED_OUT in \\d+\\.\\d\\d s: the budget \\(drain-delay 0 s "
				+ "\\+ deadline 0\\.30 s \\+ margin 0\\.30 s = 0\\.60 s\\) is spent and the process is still alive; "
				+ "halting with status 124\\. What blocks:")
			.contains("stopping bean 'blockingStop' (" + BlockingStop.class.getName() + ", phase 0), for ")
			.containsPattern("thread \"[^\"]+\" \\(closing the context\\), \\w+:\\n(      at .*\\n)*?      at (app//)?"
					+ BlockingStop.class.getName().replace("$", "\\$") + "\\.stop\\(");
	}

	@Test
	void theWatchdogNamesTheBeanWhoseCloseBlocks(CapturedOutput output) {
		BlockingClose blocking = new BlockingClose();
		runner(() -> new ShutdownWatchdog((status) -> {
			HALTS.add(status);
			blocking.release.countDown();
		})).withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=300ms",
				"graceful-shutdown.watchdog-margin=300ms")
			.withBean("blockingClose", BlockingClose.class, () -> blocking)
			.run((context) -> context.close());
		assertThat(HALTS).containsExactly(ShutdownWatchdog.HALT_STATUS);
		assertThat(output).contains("destroying bean 'blockingClose' (" + BlockingClose.class.getName())
			.containsPattern("at (app//)?" + BlockingClose.class.getName().replace("$", "\\$") + "\\.close\\(");
	}

	@Test
	void aContextClosedWhileTheJvmGoesOnDisarmsTheWatchdog(CapturedOutput output) throws Exception {
		this.runner
			.withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=100ms",
					"graceful-shutdown.watchdog-margin=100ms")
			.run((context) -> context.close());
		Thread.sleep(600);
		assertThat(HALTS).isEmpty();
		assertThat(lastLine(output)).contains("Graceful shutdown COMPLETED in");
		assertThat(output).doesNotContain("halting with status");
	}

	@Test
	void aLifecycleProcessorOfTheUsersOwnIsKeptAndTheLimitIsSaidAtStartup(CapturedOutput output) {
		this.runner.withBean("lifecycleProcessor", DefaultLifecycleProcessor.class)
			.run((context) -> assertThat(context).getBean("lifecycleProcessor")
				.isNotInstanceOf(BudgetedLifecycleProcessor.class));
		assertThat(output).contains("The lifecycle processor is a " + DefaultLifecycleProcessor.class.getName()
				+ ", not ours: lifecycle phases after the shutdown sequence each get their own timeout");
	}

	private static ApplicationContextRunner runner(Supplier<ShutdownWatchdog> watchdog) {
		return new ApplicationContextRunner()
			.withConfiguration(AutoConfigurations.of(GracefulShutdownLifecycleAutoConfiguration.class,
					LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class))
			.withBean(ShutdownWatchdog.class, watchdog);
	}

	private static String lastLine(CapturedOutput output) {
		String[] lines = output.getOut().strip().split("\n");
		return lines[lines.length - 1];
	}

	private static void sleep(long millis) {
		try {
			Thread.sleep(millis);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	/**
	 * A bean in a phase above the coordinator's, as a listener container is.
	 */
	static class Probe implements SmartLifecycle, ApplicationContextAware {

		private final int phase;

		private volatile boolean running;

		private volatile @Nullable ApplicationContext context;

		final AtomicReference<ShutdownState> stateWhenStopped = new AtomicReference<>();

		final AtomicReference<Long> jobsWhenStopped = new AtomicReference<>();

		Probe(int phase) {
			this.phase = phase;
		}

		@Override
		public void setApplicationContext(ApplicationContext context) {
			this.context = context;
		}

		@Override
		public void start() {
			this.running = true;
		}

		@Override
		public void stop() {
			ApplicationContext context = this.context;
			if (context != null) {
				this.stateWhenStopped.set(context.getBean(ShutdownCoordinator.class).state());
				this.jobsWhenStopped.set(context.getBean(DefaultJobRegistry.class).activeCount());
			}
			this.running = false;
		}

		@Override
		public boolean isRunning() {
			return this.running;
		}

		@Override
		public int getPhase() {
			return this.phase;
		}

	}

	/**
	 * A bean in the highest phase whose stop never calls back.
	 */
	static class NeverStops implements SmartLifecycle {

		private volatile boolean running;

		@Override
		public void start() {
			this.running = true;
		}

		@Override
		public void stop() {
			throw new UnsupportedOperationException();
		}

		@Override
		public void stop(Runnable callback) {
			// Never calls back, as a container whose consumers hang may not.
		}

		@Override
		public boolean isRunning() {
			return this.running;
		}

	}

	/**
	 * A plain {@link Lifecycle}, running from the start, whose stop blocks the closing
	 * thread until released.
	 */
	static class BlockingStop implements Lifecycle {

		final CountDownLatch release = new CountDownLatch(1);

		private volatile boolean running = true;

		@Override
		public void start() {
			this.running = true;
		}

		@Override
		public void stop() {
			try {
				this.release.await(30, TimeUnit.SECONDS);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
			}
			this.running = false;
		}

		@Override
		public boolean isRunning() {
			return this.running;
		}

	}

	/**
	 * A resource whose {@code close()} blocks until released.
	 */
	static class BlockingClose implements AutoCloseable {

		final CountDownLatch release = new CountDownLatch(1);

		final AtomicInteger closed = new AtomicInteger();

		@Override
		public void close() throws InterruptedException {
			this.release.await(30, TimeUnit.SECONDS);
			this.closed.incrementAndGet();
		}

	}

}
