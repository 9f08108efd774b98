package startupbench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import org.springframework.boot.context.metrics.buffering.BufferingApplicationStartup;
import org.springframework.core.metrics.ApplicationStartup;
import org.springframework.core.metrics.StartupStep;

/**
 * A {@link BufferingApplicationStartup} that also records each step's CPU time on its
 * thread. Wall time is what a start costs, but on a machine shared with other builds it
 * also counts the time the thread waited for a core; CPU time does not.
 */
final class CpuTimingStartup implements ApplicationStartup {

	private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

	private final BufferingApplicationStartup delegate;

	private final Map<Long, Long> cpuNanos = new ConcurrentHashMap<>();

	CpuTimingStartup(BufferingApplicationStartup delegate) {
		this.delegate = delegate;
	}

	@Override
	public StartupStep start(String name) {
		return new Step(this.delegate.start(name));
	}

	/** A step's CPU nanoseconds, or -1 if it ended on another thread than it started on. */
	long cpuNanos(long stepId) {
		return this.cpuNanos.getOrDefault(stepId, -1L);
	}

	BufferingApplicationStartup buffering() {
		return this.delegate;
	}

	private final class Step implements StartupStep {

		private final StartupStep step;

		private final Thread thread = Thread.currentThread();

		private final long cpuStart = THREADS.getCurrentThreadCpuTime();

		Step(StartupStep step) {
			this.step = step;
		}

		@Override
		public String getName() {
			return this.step.getName();
		}

		@Override
		public long getId() {
			return this.step.getId();
		}

		@Override
		public Long getParentId() {
			return this.step.getParentId();
		}

		@Override
		public StartupStep tag(String key, String value) {
			this.step.tag(key, value);
			return this;
		}

		@Override
		public StartupStep tag(String key, Supplier<String> value) {
			this.step.tag(key, value);
			return this;
		}

		@Override
		public Tags getTags() {
			return this.step.getTags();
		}

		@Override
		public void end() {
			if (Thread.currentThread() == this.thread) {
				CpuTimingStartup.this.cpuNanos.put(this.step.getId(), THREADS.getCurrentThreadCpuTime() - this.cpuStart);
			}
			this.step.end();
		}

	}

}
