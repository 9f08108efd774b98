package io.github.gracefulshutdown.demo;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.github.gracefulshutdown.JobRegistry;
import io.github.gracefulshutdown.ShutdownToken;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/**
 * For {@code bench/scale.sh}: {@code POST /fanout?count=10000&finishMs=500} starts
 * {@code count} tracked jobs, each on its own thread, that wait on the shutdown token
 * and, once shutdown is requested, finish a final unit of {@code finishMs} that must
 * not be cut. The threads are virtual with {@code spring.threads.virtual.enabled=true}
 * on Java 21+ (found by reflection: the demo is compiled for Java 17), platform threads
 * otherwise. The jobs journal nothing; at bean destruction one log line says how many
 * finished their final unit. Off unless {@code demo.fanout.enabled=true}.
 */
@RestController
@ConditionalOnBooleanProperty("demo.fanout.enabled")
class FanOutController implements DisposableBean {

	private static final Log logger = LogFactory.getLog(FanOutController.class);

	private final JobRegistry registry;

	private final ShutdownToken token;

	private final ExecutorService executor;

	private final boolean virtual;

	private final AtomicInteger started = new AtomicInteger();

	private final AtomicInteger finished = new AtomicInteger();

	FanOutController(JobRegistry registry, ShutdownToken token,
			@Value("${spring.threads.virtual.enabled:false}") boolean virtualWanted) {
		this.registry = registry;
		this.token = token;
		ExecutorService virtualExecutor = (virtualWanted) ? newVirtualThreadPerTaskExecutor() : null;
		this.virtual = virtualExecutor != null;
		this.executor = (virtualExecutor != null) ? virtualExecutor : newPlatformExecutor();
		logger.info("fanout: jobs run on " + threadKind() + " threads");
	}

	private static ExecutorService newVirtualThreadPerTaskExecutor() {
		try {
			return (ExecutorService) Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
		}
		catch (ReflectiveOperationException ex) {
			logger.warn("fanout: virtual threads requested but not available on Java "
					+ System.getProperty("java.version") + "; using platform threads");
			return null;
		}
	}

	private static ExecutorService newPlatformExecutor() {
		AtomicInteger count = new AtomicInteger();
		return Executors.newCachedThreadPool((task) -> {
			Thread thread = new Thread(task, "fanout-" + count.incrementAndGet());
			thread.setDaemon(true);
			return thread;
		});
	}

	private String threadKind() {
		return this.virtual ? "virtual" : "platform";
	}

	/**
	 * Starts the jobs and answers once every one of them is running and waiting on the
	 * token.
	 */
	@PostMapping("/fanout")
	@ResponseStatus(HttpStatus.ACCEPTED)
	Map<String, Object> fanOut(@RequestParam(defaultValue = "10000") int count,
			@RequestParam(defaultValue = "500") long finishMs) throws InterruptedException {
		Duration finish = Duration.ofMillis(finishMs);
		CountDownLatch running = new CountDownLatch(count);
		long start = System.nanoTime();
		for (int i = 0; i < count; i++) {
			this.executor.execute(this.registry.track("fanout", (job) -> {
				this.started.incrementAndGet();
				running.countDown();
				this.token.await(Duration.ofMinutes(10));
				// The final unit: must complete even though shutdown has begun. Only a unit
				// not interrupted (at the deadline) counts as finished.
				if (Work.perform(finish)) {
					this.finished.incrementAndGet();
				}
			}));
		}
		boolean allRunning = running.await(2, TimeUnit.MINUTES);
		Map<String, Object> answer = new LinkedHashMap<>();
		answer.put("jobs", count);
		answer.put("running", allRunning);
		answer.put("threads", threadKind());
		answer.put("startMs", (System.nanoTime() - start) / 1_000_000);
		answer.put("started", this.started.get());
		return answer;
	}

	@Override
	public void destroy() {
		logger.info("fanout: " + this.finished.get() + " of " + this.started.get()
				+ " jobs finished their final unit (" + threadKind() + " threads)");
		this.executor.shutdownNow();
	}

}
