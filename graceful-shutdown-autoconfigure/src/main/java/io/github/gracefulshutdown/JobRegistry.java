package io.github.gracefulshutdown;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * The work shutdown waits for: Go's {@code sync.WaitGroup}, with names.
 * <p>
 * {@link #begin(String)} is {@code Add(1)} and {@link TrackedJob#close()} is
 * {@code Done()}; the shutdown coordinator waits until the registry is empty or the
 * deadline passes, woken by the last close rather than by polling. Names need not be
 * unique: many {@code import} jobs may run at once. {@link JobKind#BACKGROUND} jobs are the
 * exception: their names are unique, and they stay listed after they end, as
 * {@link JobState#STOPPED} or {@link JobState#FAILED}.
 * <p>
 * Until the deadline, work may begin at any time, even while shutdown drains: a request
 * that is still being served may hand work off, and that work is awaited. After the
 * deadline {@code begin} throws {@link ShutdownInProgressException}: work is either tracked
 * and awaited, or refused at submission, never silently dropped.
 * <p>
 * Beginning and closing a job take no global lock: one atomic counter and one concurrent
 * set entry each.
 */
public final class JobRegistry {

	private final ShutdownToken token;

	private final AtomicLong active = new AtomicLong();

	private final LongAdder ended = new LongAdder();

	private final Set<Handle> activeJobs = ConcurrentHashMap.newKeySet();

	private final Map<String, Handle> backgroundJobs = new ConcurrentHashMap<>();

	private final Queue<CompletableFuture<Void>> emptyWaiters = new ConcurrentLinkedQueue<>();

	private volatile String refusal;

	/**
	 * Creates a registry whose jobs report {@link JobState#STOPPING} once the given token
	 * is cancelled. Applications inject the one the starter creates.
	 * @param token the application's shutdown token
	 */
	public JobRegistry(ShutdownToken token) {
		this.token = Objects.requireNonNull(token, "token must not be null");
	}

	/**
	 * Begins a {@link JobKind#TRACKED} job on the calling thread. Close it when the work
	 * ends, on any thread.
	 * @param name a name for logs and the status endpoint; need not be unique
	 * @return the job, to close when the work is done
	 * @throws ShutdownInProgressException if the shutdown deadline has passed
	 */
	public TrackedJob begin(String name) {
		return begin(name, JobKind.TRACKED);
	}

	/**
	 * Begins a job of the given kind. Integrations use this to report where work came
	 * from; applications usually want {@link #begin(String)}.
	 * @param name a name for logs and the status endpoint; unique for
	 * {@link JobKind#BACKGROUND} jobs
	 * @param kind where the work came from
	 * @return the job, to close when the work is done
	 * @throws ShutdownInProgressException if the shutdown deadline has passed
	 * @throws IllegalArgumentException if a background job of that name already exists
	 */
	public TrackedJob begin(String name, JobKind kind) {
		Objects.requireNonNull(name, "name must not be null");
		Objects.requireNonNull(kind, "kind must not be null");
		String refused = this.refusal;
		if (refused != null) {
			throw new ShutdownInProgressException("Cannot begin job '" + name + "': " + refused);
		}
		Handle job = new Handle(this, name, kind);
		if (kind == JobKind.BACKGROUND && this.backgroundJobs.putIfAbsent(name, job) != null) {
			throw new IllegalArgumentException("A background job named '" + name + "' already exists");
		}
		this.active.incrementAndGet();
		this.activeJobs.add(job);
		return job;
	}

	/**
	 * Runs the task on the calling thread as a tracked job.
	 * @param name the job's name
	 * @param task the work
	 * @throws ShutdownInProgressException if the shutdown deadline has passed
	 */
	public void run(String name, Runnable task) {
		try (TrackedJob job = begin(name)) {
			runAs(job, task);
		}
	}

	/**
	 * Calls the task on the calling thread as a tracked job.
	 * @param <T> the result type
	 * @param name the job's name
	 * @param task the work
	 * @return the task's result
	 * @throws Exception whatever the task throws
	 */
	public <T> T call(String name, Callable<T> task) throws Exception {
		try (TrackedJob job = begin(name)) {
			return callAs(job, task);
		}
	}

	/**
	 * Tracks a task from now, before it is handed to an executor, so that queued work is
	 * awaited too. The returned task must be run exactly once; if it never runs, it is
	 * reported as a straggler at the deadline rather than lost without a word.
	 * <pre>{@code
	 * executor.execute(registry.track("resize-image", () -> resize(image)));
	 * }</pre>
	 * @param name the job's name
	 * @param task the work
	 * @return a task that ends the job when it completes
	 * @throws ShutdownInProgressException if the shutdown deadline has passed
	 */
	public Runnable track(String name, Runnable task) {
		return track(name, JobKind.TRACKED, task);
	}

	/**
	 * Tracks a task of the given kind from now; see {@link #track(String, Runnable)}.
	 * @param name the job's name
	 * @param kind where the work came from
	 * @param task the work
	 * @return a task that ends the job when it completes
	 */
	public Runnable track(String name, JobKind kind, Runnable task) {
		Objects.requireNonNull(task, "task must not be null");
		TrackedJob job = queued(begin(name, kind));
		return () -> {
			try (job) {
				runAs(job, task);
			}
		};
	}

	/**
	 * Tracks a task from now, like {@link #track(String, Runnable)}, handing it its job so
	 * that it can report progress:
	 * <pre>{@code
	 * executor.execute(registry.track("import", (job) -> {
	 *     for (int i = 0; i < rows.size(); i++) {
	 *         importRow(rows.get(i));
	 *         job.progress(i + 1, rows.size());
	 *     }
	 * }));
	 * }</pre>
	 * @param name the job's name
	 * @param task the work, given its job
	 * @return a task that ends the job when it completes
	 * @throws ShutdownInProgressException if the shutdown deadline has passed
	 */
	public Runnable track(String name, Consumer<TrackedJob> task) {
		Objects.requireNonNull(task, "task must not be null");
		TrackedJob job = queued(begin(name));
		return () -> {
			try (job) {
				runAs(job, () -> task.accept(job));
			}
		};
	}

	/**
	 * Wraps an executor service of your own so that every task submitted through the
	 * wrapper is a tracked job from submission, named {@code name}:
	 * <pre>{@code
	 * ExecutorService mail = registry.track("send-mail", Executors.newFixedThreadPool(4));
	 * mail.submit(() -> send(message));   // awaited at shutdown, even while queued
	 * }</pre>
	 * A task the executor rejects is not tracked: the rejection reaches the caller. A task
	 * that {@code shutdownNow()} removes from the queue is never run and is reported as a
	 * straggler at the deadline.
	 * @param name the name of every job
	 * @param executor the executor that runs the tasks
	 * @return the tracking wrapper
	 */
	public ExecutorService track(String name, ExecutorService executor) {
		Objects.requireNonNull(name, "name must not be null");
		Objects.requireNonNull(executor, "executor must not be null");
		return new TrackedExecutorService(this, name, executor);
	}

	// Queued work has no thread yet: the submitter's must not be reported or interrupted.
	static TrackedJob queued(TrackedJob job) {
		((Handle) job).thread = null;
		return job;
	}

	/**
	 * Tracks a task from now; see {@link #track(String, Runnable)}.
	 * @param <T> the result type
	 * @param name the job's name
	 * @param task the work
	 * @return a task that ends the job when it completes
	 * @throws ShutdownInProgressException if the shutdown deadline has passed
	 */
	public <T> Callable<T> track(String name, Callable<T> task) {
		Objects.requireNonNull(task, "task must not be null");
		TrackedJob job = queued(begin(name));
		return () -> {
			try (job) {
				return callAs(job, task);
			}
		};
	}

	static void runAs(TrackedJob job, Runnable task) {
		((Handle) job).thread = Thread.currentThread();
		try {
			task.run();
		}
		catch (RuntimeException | Error ex) {
			job.fail(ex);
			throw ex;
		}
	}

	private static <T> T callAs(TrackedJob job, Callable<T> task) throws Exception {
		((Handle) job).thread = Thread.currentThread();
		try {
			return task.call();
		}
		catch (Exception | Error ex) {
			job.fail(ex);
			throw ex;
		}
	}

	/**
	 * Returns how many jobs are active, of every kind.
	 * @return the count
	 */
	public long activeCount() {
		return this.active.get();
	}

	/**
	 * Returns how many jobs of one kind are active. It walks the active jobs, so it is
	 * meant for gauges and status pages, not hot paths.
	 * @param kind the kind
	 * @return the count
	 */
	public long activeCount(JobKind kind) {
		long count = 0;
		for (Handle job : this.activeJobs) {
			if (job.kind == kind) {
				count++;
			}
		}
		return count;
	}

	/**
	 * Returns a snapshot of the active jobs, and of background jobs that have ended,
	 * oldest first.
	 * @return the jobs
	 */
	public List<JobInfo> jobs() {
		List<JobInfo> jobs = new ArrayList<>();
		for (Handle job : this.activeJobs) {
			if (job.kind != JobKind.BACKGROUND) {
				jobs.add(job.info());
			}
		}
		for (Handle job : this.backgroundJobs.values()) {
			jobs.add(job.info());
		}
		jobs.sort(Comparator.comparing(JobInfo::startedAt));
		return jobs;
	}

	/**
	 * Returns a future that completes the next time no job is active (at once if none
	 * is). It is completed by the close that empties the registry.
	 * @return a new future
	 */
	public CompletableFuture<Void> whenEmpty() {
		CompletableFuture<Void> waiter = new CompletableFuture<>();
		this.emptyWaiters.add(waiter);
		// Publish the waiter before reading the count; close() does the reverse, so one
		// of the two always sees the other.
		if (this.active.get() == 0) {
			completeEmptyWaiters();
		}
		return waiter;
	}

	/**
	 * Waits until no job is active.
	 * @param timeout the longest time to wait
	 * @return {@code true} if the registry became empty, {@code false} on timeout
	 * @throws InterruptedException if the waiting thread is interrupted
	 */
	public boolean awaitEmpty(Duration timeout) throws InterruptedException {
		CompletableFuture<Void> empty = whenEmpty();
		try {
			empty.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
			return true;
		}
		catch (TimeoutException ex) {
			return false;
		}
		catch (ExecutionException ex) {
			throw new IllegalStateException(ex.getCause());
		}
		finally {
			this.emptyWaiters.remove(empty);
		}
	}

	/**
	 * Refuses every later {@code begin}, with the given reason in the exception.
	 */
	void refuseNewJobs(String reason) {
		this.refusal = reason;
	}

	/**
	 * The active jobs with the threads that run them, for the deadline report.
	 */
	List<Handle> activeJobs() {
		List<Handle> jobs = new ArrayList<>(this.activeJobs);
		jobs.sort(Comparator.comparingLong((Handle job) -> job.startedAtMillis));
		return jobs;
	}

	/**
	 * How many jobs have ended since the application started, so the coordinator can
	 * say how many it awaited.
	 */
	long endedCount() {
		return this.ended.sum();
	}

	private void ended(Handle job) {
		this.ended.increment();
		this.activeJobs.remove(job);
		if (this.active.decrementAndGet() == 0 && !this.emptyWaiters.isEmpty()) {
			completeEmptyWaiters();
		}
	}

	private void completeEmptyWaiters() {
		// A begin racing with us makes the count non-zero again; its own close will then
		// complete the waiters, so none is left behind.
		CompletableFuture<Void> waiter;
		while (this.active.get() == 0 && (waiter = this.emptyWaiters.poll()) != null) {
			waiter.complete(null);
		}
	}

	/**
	 * The registry's own job; package-private so the coordinator can read its thread.
	 */
	static final class Handle implements TrackedJob {

		private static final VarHandle ENDED;

		static {
			try {
				ENDED = MethodHandles.lookup().findVarHandle(Handle.class, "ended", boolean.class);
			}
			catch (ReflectiveOperationException ex) {
				throw new ExceptionInInitializerError(ex);
			}
		}

		private final JobRegistry registry;

		private final String name;

		private final JobKind kind;

		private final long startedAtMillis = System.currentTimeMillis();

		// Cheap, uncontended and well spread, unlike an identity hash or a shared sequence.
		private final int hash = ThreadLocalRandom.current().nextInt();

		// A field updated through a VarHandle: no AtomicBoolean to allocate per job.
		private volatile boolean ended;

		private volatile JobState endState;

		private volatile JobInfo.Progress progress;

		volatile Thread thread = Thread.currentThread();

		Handle(JobRegistry registry, String name, JobKind kind) {
			this.registry = registry;
			this.name = name;
			this.kind = kind;
		}

		@Override
		public String name() {
			return this.name;
		}

		@Override
		public JobKind kind() {
			return this.kind;
		}

		@Override
		public void progress(long done, long total) {
			this.thread = Thread.currentThread();
			this.progress = new JobInfo.Progress(done, total, null);
		}

		@Override
		public void progress(String message) {
			this.thread = Thread.currentThread();
			this.progress = new JobInfo.Progress(-1, -1, message);
		}

		@Override
		public void fail(Throwable cause) {
			end(JobState.FAILED);
		}

		@Override
		public void close() {
			end(JobState.STOPPED);
		}

		private void end(JobState state) {
			if (ENDED.compareAndSet(this, false, true)) {
				this.endState = state;
				this.registry.ended(this);
			}
		}

		Thread thread() {
			return this.thread;
		}

		Instant startedAt() {
			return Instant.ofEpochMilli(this.startedAtMillis);
		}

		Duration age(long nowMillis) {
			return Duration.ofMillis(nowMillis - this.startedAtMillis);
		}

		JobState state() {
			JobState end = this.endState;
			if (end != null) {
				return end;
			}
			return this.registry.token.isShutdownRequested() ? JobState.STOPPING : JobState.RUNNING;
		}

		JobInfo info() {
			return new JobInfo(this.name, this.kind, state(), startedAt(), this.progress);
		}

		@Override
		public int hashCode() {
			return this.hash;
		}

		@Override
		public boolean equals(Object obj) {
			return this == obj;
		}

		@Override
		public String toString() {
			return this.kind + " job '" + this.name + "'";
		}

	}

}
