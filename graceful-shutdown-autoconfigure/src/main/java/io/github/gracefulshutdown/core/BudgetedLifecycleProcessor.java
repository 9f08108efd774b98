package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

import org.springframework.context.Lifecycle;
import org.springframework.context.Phased;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.support.DefaultLifecycleProcessor;

/**
 * Spring's lifecycle processor, with the phases that stop after the shutdown sequence
 * held to what is left of its budget rather than each to a timeout of its own.
 * <p>
 * Spring reads a phase's timeout just before it waits for that phase, so each phase gets
 * what is left at that moment ({@link ShutdownWatchdog#phaseTimeout()}). Each bean it
 * stops is reported to the watchdog, which can then name the bean whose {@code stop()}
 * blocks, and the beans that never called back once their phase timed out: the verdict
 * names those as still running.
 * <p>
 * Only the close of the context is watched: {@code start()}, {@code stop()} and
 * {@code pause()} behave as Spring's own.
 */
public class BudgetedLifecycleProcessor extends DefaultLifecycleProcessor {

	private final ShutdownWatchdog watchdog;

	private volatile boolean closing;

	/**
	 * Creates a processor.
	 * @param watchdog what to report each stop to, and where the budget is kept
	 */
	public BudgetedLifecycleProcessor(ShutdownWatchdog watchdog) {
		this.watchdog = Objects.requireNonNull(watchdog, "watchdog must not be null");
	}

	@Override
	public void onClose() {
		this.closing = true;
		super.onClose();
	}

	@Override
	protected Map<String, Lifecycle> getLifecycleBeans() {
		Map<String, Lifecycle> beans = super.getLifecycleBeans();
		if (this.closing) {
			beans.replaceAll((name, bean) -> (bean instanceof SmartLifecycle smart) ? new WatchedSmartLifecycle(name, smart)
					: new WatchedLifecycle(name, bean));
		}
		return beans;
	}

	@Override
	protected int getPhase(Lifecycle bean) {
		return super.getPhase((bean instanceof WatchedLifecycle watched) ? watched.delegate : bean);
	}

	private void limitPhase(int phase) {
		Duration timeout = this.watchdog.phaseTimeout();
		if (timeout != null) {
			setTimeoutForShutdownPhase(phase, timeout.toMillis());
		}
	}

	/**
	 * A plain {@link Lifecycle}, stopped on the closing thread. {@link Phased} so that
	 * Spring puts it in the phase the bean asks for.
	 */
	private class WatchedLifecycle implements Lifecycle, Phased {

		final String name;

		final Lifecycle delegate;

		WatchedLifecycle(String name, Lifecycle delegate) {
			this.name = name;
			this.delegate = delegate;
		}

		@Override
		public void start() {
			this.delegate.start();
		}

		@Override
		public void stop() {
			Runnable stopped = BudgetedLifecycleProcessor.this.watchdog.stopping(this.name, this.delegate, getPhase());
			try {
				this.delegate.stop();
			}
			finally {
				stopped.run();
			}
		}

		@Override
		public boolean isRunning() {
			return this.delegate.isRunning();
		}

		@Override
		public int getPhase() {
			return BudgetedLifecycleProcessor.super.getPhase(this.delegate);
		}

	}

	/**
	 * A {@link SmartLifecycle}: stopped with a callback, which Spring waits for until the
	 * phase's timeout, and which may never come.
	 */
	private final class WatchedSmartLifecycle extends WatchedLifecycle implements SmartLifecycle {

		private final SmartLifecycle smart;

		WatchedSmartLifecycle(String name, SmartLifecycle delegate) {
			super(name, delegate);
			this.smart = delegate;
		}

		@Override
		public void stop(Runnable callback) {
			int phase = getPhase();
			limitPhase(phase);
			Runnable stopped = BudgetedLifecycleProcessor.this.watchdog.stopping(this.name, this.delegate, phase);
			try {
				this.smart.stop(() -> {
					stopped.run();
					callback.run();
				});
			}
			catch (RuntimeException | Error ex) {
				// Spring stops waiting for a bean whose stop throws.
				stopped.run();
				throw ex;
			}
		}

		@Override
		public boolean isAutoStartup() {
			return this.smart.isAutoStartup();
		}

		@Override
		public boolean isPauseable() {
			return this.smart.isPauseable();
		}

		@Override
		public int getPhase() {
			return this.smart.getPhase();
		}

	}

}
