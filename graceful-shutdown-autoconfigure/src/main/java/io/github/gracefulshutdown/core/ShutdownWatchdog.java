package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.config.DestructionAwareBeanPostProcessor;
import org.springframework.boot.logging.LoggingSystem;

/**
 * Watches the root context close, from the first step of the shutdown sequence to the
 * last bean destroyed, and bounds it: if the process is still alive at drain-delay +
 * deadline + margin, it logs one ERROR block naming what blocks, flushes the logs and
 * halts the JVM with {@link #HALT_STATUS}.
 * <p>
 * Spring's per-phase timeouts cannot cut short a {@code stop()}, a {@code @PreDestroy}
 * or a {@code close()} that blocks, because they run on the thread that closes the
 * context; nor can anything in the context bound another JVM shutdown hook. Only a thread
 * of its own can. It also records which bean is being stopped (for
 * {@link BudgetedLifecycleProcessor}) or destroyed, so the ERROR block can name it, and
 * which beans never said they had stopped, so the verdict can.
 * <p>
 * It is a {@link DestructionAwareBeanPostProcessor}: created before the application's
 * beans, and so destroyed after them, which is how it knows the context has finished
 * closing.
 */
public final class ShutdownWatchdog implements DestructionAwareBeanPostProcessor, DisposableBean {

	/**
	 * The status the JVM halts with when the budget is spent: 124, as {@code timeout(1)}
	 * exits when its command outlives the limit.
	 */
	public static final int HALT_STATUS = 124;

	/**
	 * The least time a lifecycle phase after the sequence gets, even when the budget is
	 * spent: a bean that stops on a thread of its own (a web server, a listener
	 * container) needs a moment to call back, and the watchdog still bounds the sum.
	 */
	static final Duration PHASE_FLOOR = Duration.ofSeconds(1);

	// Deep enough to reach the user's frame under Spring's and the JDK's.
	private static final int STACK_DEPTH = 48;

	private static final Log logger = LogFactory.getLog(ShutdownWatchdog.class);

	private final IntConsumer halt;

	private final CountDownLatch disarmed = new CountDownLatch(1);

	private final Set<Stopping> stopping = ConcurrentHashMap.newKeySet();

	private final List<Runnable> onClosed = new CopyOnWriteArrayList<>();

	private volatile @Nullable Destroying destroying;

	private volatile @Nullable Thread closingThread;

	private volatile boolean contextClosed;

	private volatile long armedAtNanos;

	private volatile long budgetEndNanos;

	private volatile @Nullable String budget;

	/**
	 * Creates a watchdog that flushes the logs and halts the JVM with
	 * {@link Runtime#halt(int)}.
	 */
	public ShutdownWatchdog() {
		this((status) -> {
			flushLogs();
			Runtime.getRuntime().halt(status);
		});
	}

	/**
	 * Creates a watchdog.
	 * @param halt ends the process with the given status, once the ERROR block is logged
	 */
	public ShutdownWatchdog(IntConsumer halt) {
		this.halt = Objects.requireNonNull(halt, "halt must not be null");
	}

	/**
	 * Arms the watchdog as the shutdown sequence starts. Once only; later calls do
	 * nothing.
	 * @param budget how long the sequence may take: drain-delay + deadline; later
	 * lifecycle phases get what is left of it
	 * @param margin how long bean destruction and other shutdown hooks may take beyond
	 * the budget before the JVM is halted
	 * @param describeBudget the budget as the startup line states it
	 */
	void arm(Duration budget, Duration margin, String describeBudget) {
		if (this.closingThread != null) {
			return;
		}
		this.closingThread = Thread.currentThread();
		this.armedAtNanos = System.nanoTime();
		this.budgetEndNanos = this.armedAtNanos + budget.toNanos();
		this.budget = describeBudget;
		long boundNanos = budget.plus(margin).toNanos();
		Thread thread = new Thread(() -> watch(boundNanos), "graceful-shutdown-watchdog");
		// A watchdog must never be what keeps the JVM alive.
		thread.setDaemon(true);
		thread.start();
	}

	private void watch(long boundNanos) {
		try {
			if (this.disarmed.await(boundNanos, TimeUnit.NANOSECONDS)) {
				return;
			}
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			return;
		}
		String block = whatBlocks();
		logger.error(block);
		if (this.contextClosed) {
			// Spring Boot stops the logging system once the context has closed: what blocks
			// now (another JVM shutdown hook) would be logged to nowhere.
			System.err.println(Instant.now() + " ERROR " + ShutdownWatchdog.class.getName() + " : " + block);
		}
		this.halt.accept(HALT_STATUS);
	}

	/**
	 * Returns how long a lifecycle phase that starts stopping now may wait for its beans:
	 * what is left of the budget, and at least {@link #PHASE_FLOOR}.
	 * @return the timeout, or {@code null} if no sequence has started
	 */
	@Nullable Duration phaseTimeout() {
		if (this.closingThread == null) {
			return null;
		}
		Duration left = Duration.ofNanos(this.budgetEndNanos - System.nanoTime());
		return (left.compareTo(PHASE_FLOOR) < 0) ? PHASE_FLOOR : left;
	}

	/**
	 * Records that a bean is being asked to stop.
	 * @param beanName the bean's name
	 * @param bean the bean
	 * @param phase its lifecycle phase
	 * @return what to run once it has stopped
	 */
	Runnable stopping(String beanName, Object bean, int phase) {
		Stopping entry = new Stopping(beanName, bean.getClass().getName(), phase, System.nanoTime());
		this.stopping.add(entry);
		return () -> this.stopping.remove(entry);
	}

	/**
	 * Returns the beans that were asked to stop and have not said they stopped.
	 * @return descriptions such as {@code bean 'consumer' (phase 2147483647), stopping
	 * for 3.02 s}
	 */
	List<String> stillStopping() {
		long now = System.nanoTime();
		return this.stopping.stream().sorted((a, b) -> Long.compare(a.sinceNanos, b.sinceNanos))
				.map((entry) -> entry.describe(now)).toList();
	}

	/**
	 * Registers what to run once the context has finished closing.
	 * @param action the action
	 */
	void onContextClosed(Runnable action) {
		this.onClosed.add(action);
	}

	@Override
	public void postProcessBeforeDestruction(Object bean, String beanName) {
		this.destroying = new Destroying(beanName, bean.getClass().getName(), System.nanoTime());
	}

	@Override
	public boolean requiresDestruction(Object bean) {
		// Every bean, so that a destroy method that blocks is named: Spring asks this of
		// singletons (and scoped beans), and a bean with nothing to destroy costs one
		// callback at close.
		return true;
	}

	/**
	 * The context has destroyed every other bean: it has finished closing.
	 */
	@Override
	public void destroy() {
		this.contextClosed = true;
		this.destroying = null;
		for (Runnable action : this.onClosed) {
			try {
				action.run();
			}
			catch (RuntimeException ex) {
				logger.error("Failed to report the end of the shutdown", ex);
			}
		}
		// Other shutdown hooks may still run once the context has closed, and the budget
		// bounds them too; a context closed by a JVM that goes on (a test) is done with.
		if (!isJvmShuttingDown()) {
			this.disarmed.countDown();
		}
	}

	/**
	 * The ERROR block: the budget, the bean being stopped or destroyed, the closing
	 * thread's stack, and the stacks of the other threads that may hold the JVM.
	 */
	String whatBlocks() {
		long now = System.nanoTime();
		// A verdict of its own, and the last: whatever it halts is cut, even after the
		// context's own verdict said that everything in the context had ended.
		StringBuilder block = new StringBuilder("Graceful shutdown TIMED_OUT in ")
			.append(ShutdownReport.format(Duration.ofNanos(now - this.armedAtNanos)))
			.append(": the budget (")
			.append(this.budget)
			.append(") is spent and the process is still alive")
			.append(this.contextClosed ? " after the context closed" : "")
			.append("; halting with status ")
			.append(HALT_STATUS)
			.append(". What blocks:");
		for (String entry : stillStopping()) {
			block.append("\n  stopping ").append(entry);
		}
		Destroying destroying = this.destroying;
		if (destroying != null) {
			block.append("\n  destroying bean '")
				.append(destroying.beanName)
				.append("' (")
				.append(destroying.type)
				.append("), for ")
				.append(ShutdownReport.format(Duration.ofNanos(now - destroying.sinceNanos)));
		}
		Thread closing = this.closingThread;
		if (closing != null && closing.isAlive()) {
			appendThread(block, closing, closing.getStackTrace(), "closing the context");
		}
		List<String> idle = new ArrayList<>();
		Thread.getAllStackTraces().forEach((thread, stack) -> {
			// Non-daemon threads are what other shutdown hooks run on.
			if (thread == closing || thread == Thread.currentThread() || thread.isDaemon()
					|| "DestroyJavaVM".equals(thread.getName())) {
				return;
			}
			if (isIdlePoolWorker(stack)) {
				idle.add(thread.getName());
			}
			else {
				appendThread(block, thread, stack, "another shutdown hook, or a non-daemon thread");
			}
		});
		if (!idle.isEmpty()) {
			block.append("\n  and ").append(idle.size()).append(" idle pool thread").append((idle.size() == 1) ? "" : "s")
				.append(", which block nothing: ").append(String.join(", ", idle));
		}
		return block.toString();
	}

	/**
	 * An executor's worker waiting for its next task: it holds nothing up, and listing its
	 * stack would only make the reader look for a cause where there is none.
	 */
	private static boolean isIdlePoolWorker(StackTraceElement[] stack) {
		for (int i = 0; i < Math.min(stack.length, 12); i++) {
			if (stack[i].getClassName().equals("java.util.concurrent.ThreadPoolExecutor")
					&& stack[i].getMethodName().equals("getTask")) {
				return true;
			}
		}
		return false;
	}

	private static void appendThread(StringBuilder block, Thread thread, StackTraceElement[] stack, String role) {
		block.append("\n  thread \"").append(thread.getName()).append("\" (").append(role).append("), ")
				.append(thread.getState()).append(':');
		for (int i = 0; i < Math.min(stack.length, STACK_DEPTH); i++) {
			block.append("\n      at ").append(stack[i]);
		}
		if (stack.length > STACK_DEPTH) {
			block.append("\n      ... ").append(stack.length - STACK_DEPTH).append(" more");
		}
	}

	private static void flushLogs() {
		try {
			// Spring Boot's own way to stop the logging system, which flushes its appenders.
			Runnable shutdown = LoggingSystem.get(ShutdownWatchdog.class.getClassLoader()).getShutdownHandler();
			if (shutdown != null) {
				shutdown.run();
			}
		}
		catch (RuntimeException | LinkageError ex) {
			// Halting matters more than the last lines.
		}
		System.out.flush();
		System.err.flush();
	}

	private static boolean isJvmShuttingDown() {
		Thread probe = new Thread(() -> {
		}, "graceful-shutdown-probe");
		try {
			// The JDK's only public test: it refuses new hooks once shutdown has begun.
			Runtime.getRuntime().addShutdownHook(probe);
			Runtime.getRuntime().removeShutdownHook(probe);
			return false;
		}
		catch (IllegalStateException ex) {
			return true;
		}
	}

	private record Stopping(String beanName, String type, int phase, long sinceNanos) {

		String describe(long now) {
			return "bean '" + this.beanName + "' (" + this.type + ", phase " + this.phase + "), for "
					+ ShutdownReport.format(Duration.ofNanos(now - this.sinceNanos));
		}

	}

	private record Destroying(String beanName, String type, long sinceNanos) {
	}

}
