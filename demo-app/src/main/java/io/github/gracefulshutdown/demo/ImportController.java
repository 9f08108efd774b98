package io.github.gracefulshutdown.demo;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import io.github.gracefulshutdown.JobRegistry;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/**
 * Endpoints that create work: a slow request, and an import handed off to an executor
 * as a tracked job with progress.
 */
@RestController
class ImportController implements DisposableBean {

	private final JobRegistry registry;

	private final Journal journal;

	private final Duration rowTime;

	private final Notifier notifier;

	private final AtomicInteger imports = new AtomicInteger();

	private final ExecutorService executor = Executors.newFixedThreadPool(4, (task) -> {
		Thread thread = new Thread(task, "import-worker");
		thread.setDaemon(true);
		return thread;
	});

	private final ExecutorService ticker = Executors.newCachedThreadPool((task) -> {
		Thread thread = new Thread(task, "events-ticker");
		thread.setDaemon(true);
		return thread;
	});

	ImportController(JobRegistry registry, Journal journal, Notifier notifier,
			@Value("${demo.import.row:100ms}") Duration rowTime) {
		this.registry = registry;
		this.journal = journal;
		this.notifier = notifier;
		this.rowTime = rowTime;
	}

	/**
	 * Hands work to {@code @Async}: accepted and tracked even while the application drains.
	 */
	@PostMapping("/notify")
	@ResponseStatus(HttpStatus.ACCEPTED)
	Map<String, Object> notify(@RequestParam(defaultValue = "1") int count) {
		for (int i = 0; i < count; i++) {
			this.notifier.send("n-" + System.nanoTime());
		}
		return Map.of("queued", count);
	}

	@GetMapping("/slow")
	Map<String, Object> slow(@RequestParam(defaultValue = "2500") long ms) {
		this.journal.unit("slow", "req-" + System.nanoTime(), Duration.ofMillis(ms));
		return Map.of("slept", ms);
	}

	/**
	 * A response sent in two parts, {@code ms} apart, like a download: its status and
	 * headers, with whether the connection stays open, go out before it ends.
	 */
	@GetMapping("/stream")
	void stream(@RequestParam(defaultValue = "2500") long ms, HttpServletResponse response) throws IOException {
		response.setContentType("text/plain");
		PrintWriter body = response.getWriter();
		body.println("first part");
		body.flush();
		this.journal.unit("stream", "req-" + System.nanoTime(), Duration.ofMillis(ms));
		body.println("second part");
	}

	@GetMapping("/hello")
	String hello() {
		return "hello";
	}

	/**
	 * A stream that never ends on its own: an event every second until the client
	 * leaves, or until the shutdown deadline ends it.
	 */
	@GetMapping("/events")
	SseEmitter events() {
		SseEmitter emitter = new SseEmitter(-1L);
		this.ticker.execute(() -> {
			try {
				for (int i = 0;; i++) {
					emitter.send(SseEmitter.event().name("tick").data(i));
					Thread.sleep(1000);
				}
			}
			catch (Exception ex) {
				emitter.completeWithError(ex);
			}
		});
		return emitter;
	}

	@PostMapping("/imports")
	@ResponseStatus(HttpStatus.ACCEPTED)
	Map<String, Object> startImport(@RequestParam(defaultValue = "20") int rows,
			@RequestParam(defaultValue = "1") int count) {
		String first = null;
		for (int i = 0; i < count; i++) {
			String name = "import-" + this.imports.incrementAndGet();
			first = (first != null) ? first : name;
			// Tracked from submission, so an import still queued at shutdown is awaited too.
			this.executor.execute(this.registry.track(name, (job) -> {
				this.journal.start("import", name);
				for (int row = 1; row <= rows; row++) {
					if (!Work.perform(this.rowTime)) {
						this.journal.cut("import", name);
						return;
					}
					job.progress(row, rows);
				}
				this.journal.end("import", name);
			}));
		}
		return Map.of("job", first, "count", count, "rows", rows);
	}

	@Override
	public void destroy() {
		this.executor.shutdown();
		this.ticker.shutdownNow();
	}

}
