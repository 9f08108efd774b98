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
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

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
 * Beginning a job is one allocation, one clock read and one compare-and-set; closing it is
 * one compare-and-set and one atomic add. Both touch only a stripe chosen by the calling
 * thread, so request threads do not contend on one shared counter.
 */
public final class JobRegistry {

	private static final int MAX_STRIPES = 64;

	private final ShutdownToken token;

	// Jobs live in per-thread stripes; see Stripe for how they are counted and listed.
	private final Stripe[] stripes;

	private final int stripeShift;

	private final Map<String, Handle> backgroundJobs = new ConcurrentHashMap<>();

	private final Queue<CompletableFuture<Void>> emptyWaiters = new ConcurrentLinkedQueue<>();

	private volatile String refusal;

	// Lets a test act between the stripe reads of isEmpty(); always null in an application.
	volatile IntConsumer afterStripeRead;

	/**
	 * Creates a registry whose jobs report {@link JobState#STOPPING} once the given token
	 * is cancelled. Applications inject the one the starter creates.
	 * @param token the application's shutdown token
	 */
	public JobRegistry(ShutdownToken token) {
		this.token = Objects.requireNonNull(token, "token must not be null");
		int count = 4;
		while (count < 2 * Runtime.getRuntime().availableProcessors() && count < MAX_STRIPES) {
			count <<= 1;
		}
		this.stripes = new Stripe[count];
		for (int i = 0; i < count; i++) {
			this.stripes[i] = new Stripe(this);
		}
		this.stripeShift = Long.numberOfLeadingZeros(count - 1);
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
		Thread thread = Thread.currentThread();
		Stripe stripe = this.stripes[stripeIndex(thread)];
		Handle job = new Handle(stripe, name, kind, thread);
		if (kind == JobKind.BACKGROUND && this.backgroundJobs.putIfAbsent(name, job) != null) {
			throw new IllegalArgumentException("A background job named '" + name + "' already exists");
		}
		stripe.push(job);
		return job;
	}

	@SuppressWarnings("deprecation") // Thread.threadId() is Java 19+; getId() is the same value.
	int stripeIndex(Thread thread) {
		// Fibonacci hashing spreads consecutive thread ids over different stripes.
		return (int) ((thread.getId() * 0x9E3779B97F4A7C15L) >>> this.stripeShift);
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
		((Handle) job).runOn(null);
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
		((Handle) job).runOn(Thread.currentThread());
		try {
			task.run();
		}
		catch (RuntimeException | Error ex) {
			job.fail(ex);
			throw ex;
		}
	}

	private static <T> T callAs(TrackedJob job, Callable<T> task) throws Exception {
		((Handle) job).runOn(Thread.currentThread());
		try {
			return task.call();
		}
		catch (Exception | Error ex) {
			job.fail(ex);
			throw ex;
		}
	}

	/**
	 * Returns how many jobs are active, of every kind. While jobs begin and end
	 * concurrently the figure may include jobs that ended during the call, never miss one
	 * that was active throughout it.
	 * @return the count
	 */
	public long activeCount() {
		long count = 0;
		for (Stripe stripe : this.stripes) {
			long ended = stripe.ended;
			count += stripe.begun() - ended;
		}
		return count;
	}

	/**
	 * Returns how many jobs of one kind are active. It walks the active jobs, so it is
	 * meant for gauges and status pages, not hot paths.
	 * @param kind the kind
	 * @return the count
	 */
	public long activeCount(JobKind kind) {
		long count = 0;
		for (Stripe stripe : this.stripes) {
			for (Handle job = stripe.head; job != null; job = job.next) {
				if (job.kind == kind && job.endState == null) {
					count++;
				}
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
		for (Handle job : collectActiveJobs()) {
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
		// Publish the waiter before reading the counts; close() does the reverse, so one
		// of the two always sees the other.
		if (isEmpty()) {
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
		List<Handle> jobs = collectActiveJobs();
		jobs.sort(Comparator.comparingLong((Handle job) -> job.startedAtMillis));
		return jobs;
	}

	// In no particular order: jobs() sorts what it lists, with the background jobs, once.
	private List<Handle> collectActiveJobs() {
		List<Handle> jobs = new ArrayList<>();
		for (Stripe stripe : this.stripes) {
			stripe.sweep();
			for (Handle job = stripe.head; job != null; job = job.next) {
				if (job.endState == null) {
					jobs.add(job);
				}
			}
		}
		return jobs;
	}

	/**
	 * How many jobs the stripes still link, ended ones not yet swept included: tests check
	 * that it stays bounded.
	 */
	long linkedCount() {
		long count = 0;
		for (Stripe stripe : this.stripes) {
			for (Handle job = stripe.head; job != null; job = job.next) {
				count++;
			}
		}
		return count;
	}

	/**
	 * How many jobs have ended since the application started, so the coordinator can
	 * say how many it awaited.
	 */
	long endedCount() {
		long count = 0;
		for (Stripe stripe : this.stripes) {
			count += stripe.ended;
		}
		return count;
	}

	private void ended() {
		if (!this.emptyWaiters.isEmpty() && isEmpty()) {
			completeEmptyWaiters();
		}
	}

	private void completeEmptyWaiters() {
		// A begin racing with us makes the registry non-empty again; its own close will
		// then complete the waiters, so none is left behind.
		CompletableFuture<Void> waiter;
		while (isEmpty() && (waiter = this.emptyWaiters.poll()) != null) {
			waiter.complete(null);
		}
	}

	/**
	 * Whether there was a moment, during this call, when no job was active. Summing the
	 * stripes once is not enough: a job could begin in a stripe already read while another
	 * ends in a stripe not read yet, and the sum would be zero although the registry was
	 * never empty. So the first pass checks every stripe is empty and the second that no
	 * job began in any stripe since the first pass read it. Between the passes, then,
	 * every stripe was empty at once.
	 */
	boolean isEmpty() {
		IntConsumer afterStripeRead = this.afterStripeRead;
		long[] begun = new long[this.stripes.length];
		for (int i = 0; i < this.stripes.length; i++) {
			// Ended before begun: a job that begins and ends between the reads then counts
			// as active, never the reverse.
			long ended = this.stripes[i].ended;
			begun[i] = this.stripes[i].begun();
			if (afterStripeRead != null) {
				afterStripeRead.accept(i);
			}
			if (begun[i] != ended) {
				return false;
			}
		}
		for (int i = 0; i < this.stripes.length; i++) {
			if (this.stripes[i].begun() != begun[i]) {
				return false;
			}
		}
		return true;
	}

	/**
	 * Fields that keep a stripe's hot fields off the cache line of the object allocated
	 * before it, so two threads working in two stripes do not slow each other down.
	 */
	@SuppressWarnings("unused")
	private abstract static class PaddingBefore {

		long p01, p02, p03, p04, p05, p06, p07, p08;

	}

	/**
	 * One stripe of jobs: a list that {@code begin} pushes onto with one compare-and-set
	 * of its head, and a count of the jobs that ended in it. Closing a job only marks it
	 * ended and adds one to that count; the ended jobs are unlinked later, in a sweep that
	 * one thread at a time runs once enough jobs have begun since the last sweep. So
	 * {@code begin} and {@code close} never search the list, and a sweep costs at most a
	 * few steps per job begun. The newest job, the head, is never unlinked: its sequence
	 * number is the count of jobs ever begun in the stripe.
	 */
	private abstract static class StripeFields extends PaddingBefore {

		private static final VarHandle HEAD;

		private static final VarHandle ENDED;

		private static final VarHandle SWEEPING;

		static {
			try {
				MethodHandles.Lookup lookup = MethodHandles.lookup();
				HEAD = lookup.findVarHandle(StripeFields.class, "head", Handle.class);
				ENDED = lookup.findVarHandle(StripeFields.class, "ended", long.class);
				SWEEPING = lookup.findVarHandle(StripeFields.class, "sweeping", boolean.class);
			}
			catch (ReflectiveOperationException ex) {
				throw new ExceptionInInitializerError(ex);
			}
		}

		// Sweeps run when at least this many jobs have begun since the last one, and at
		// least as many as were active after it, so that their cost is spread thinly.
		private static final long SWEEP_EVERY = 64;

		final JobRegistry registry;

		volatile Handle head;

		volatile long ended;

		private volatile boolean sweeping;

		// Written only by the sweeping thread; read by begin to decide when to sweep next.
		private volatile long nextSweepAt = SWEEP_EVERY;

		StripeFields(JobRegistry registry) {
			this.registry = registry;
		}

		long begun() {
			Handle head = this.head;
			return (head != null) ? head.seq : 0;
		}

		void push(Handle job) {
			Handle head;
			do {
				head = this.head;
				job.link(head);
			}
			while (!HEAD.compareAndSet(this, head, job));
			if (job.seq >= this.nextSweepAt) {
				sweep();
			}
		}

		void ended() {
			ENDED.getAndAdd(this, 1L);
			this.registry.ended();
		}

		/**
		 * Unlinks the ended jobs behind the head, unless another thread is already at it.
		 * Pushes only ever change the head, and only the sweeping thread changes a link
		 * behind it, so no unlink is lost; a reader walking the list meanwhile still
		 * reaches every job that was in it, through the unlinked job's own link.
		 */
		void sweep() {
			if (!SWEEPING.compareAndSet(this, false, true)) {
				return;
			}
			try {
				Handle head = this.head;
				if (head == null) {
					return;
				}
				long active = 1;
				Handle previous = head;
				for (Handle job = head.next; job != null; job = job.next) {
					if (job.endState != null) {
						previous.next = job.next;
					}
					else {
						previous = job;
						active++;
					}
				}
				this.nextSweepAt = head.seq + Math.max(SWEEP_EVERY, active);
			}
			finally {
				this.sweeping = false;
			}
		}

	}

	@SuppressWarnings("unused")
	private static final class Stripe extends StripeFields {

		long q01, q02, q03, q04, q05, q06, q07, q08;

		Stripe(JobRegistry registry) {
			super(registry);
		}

	}

	/**
	 * The registry's own job; package-private so the coordinator can read its thread.
	 */
	static final class Handle implements TrackedJob {

		private static final VarHandle END_STATE;

		private static final VarHandle THREAD;

		private static final VarHandle NEXT;

		static {
			try {
				MethodHandles.Lookup lookup = MethodHandles.lookup();
				END_STATE = lookup.findVarHandle(Handle.class, "endState", JobState.class);
				THREAD = lookup.findVarHandle(Handle.class, "thread", Thread.class);
				NEXT = lookup.findVarHandle(Handle.class, "next", Handle.class);
			}
			catch (ReflectiveOperationException ex) {
				throw new ExceptionInInitializerError(ex);
			}
		}

		private final Stripe stripe;

		private final String name;

		private final JobKind kind;

		private final long startedAtMillis = System.currentTimeMillis();

		// Set once, by a compare-and-set, so close is idempotent; null while active.
		volatile JobState endState;

		private volatile JobInfo.Progress progress;

		private volatile Thread thread;

		// The next older job in the stripe, and this job's number in it.
		volatile Handle next;

		long seq;

		Handle(Stripe stripe, String name, JobKind kind, Thread thread) {
			this.stripe = stripe;
			this.name = name;
			this.kind = kind;
			// Plain writes: pushing the job onto its stripe publishes them, and a volatile
			// write here would cost a fence on every begin.
			THREAD.set(this, thread);
		}

		void link(Handle next) {
			NEXT.set(this, next);
			this.seq = (next != null) ? next.seq + 1 : 1;
		}

		void runOn(Thread thread) {
			this.thread = thread;
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
			runOn(Thread.currentThread());
			this.progress = new JobInfo.Progress(done, total, null);
		}

		@Override
		public void progress(String message) {
			runOn(Thread.currentThread());
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
			if (END_STATE.compareAndSet(this, null, state)) {
				this.stripe.ended();
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
			return this.stripe.registry.token.isShutdownRequested() ? JobState.STOPPING : JobState.RUNNING;
		}

		JobInfo info() {
			return new JobInfo(this.name, this.kind, state(), startedAt(), this.progress);
		}

		@Override
		public String toString() {
			return this.kind + " job '" + this.name + "'";
		}

	}

}
