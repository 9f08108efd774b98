package io.github.gracefulshutdown.core;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.function.Consumer;

import io.github.gracefulshutdown.JobRegistry;
import io.github.gracefulshutdown.ShutdownInProgressException;
import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.TrackedJob;
import org.jspecify.annotations.Nullable;

/**
 * The {@link JobRegistry}, and the participant that stands for it in the shutdown
 * sequence. Jobs live in an {@link InFlightTracker}: beginning one is one allocation, one
 * clock read and one compare-and-set, closing it one compare-and-set and one atomic add.
 * <p>
 * {@link JobKind#BACKGROUND} jobs are the exception to "names need not be unique": their
 * names are, and they stay listed after they end, as {@link JobState#STOPPED} or
 * {@link JobState#FAILED}.
 * <p>
 * The sequence drains the registry last, once everything else has drained, because
 * requests and messages still in flight may hand work to it. {@link #drain()} then seals
 * it at the first moment it is empty; {@link #deadlinePassed()} seals it at once.
 */
public final class DefaultJobRegistry implements JobRegistry, ShutdownParticipant {

	private final ShutdownToken token;

	private final InFlightTracker<Job> jobs = new InFlightTracker<>();

	private final Map<String, Job> backgroundJobs = new ConcurrentHashMap<>();

	private final List<Consumer<String>> backgroundListeners = new CopyOnWriteArrayList<>();

	/**
	 * Creates a registry whose jobs report {@link JobState#STOPPING} once the given token
	 * is cancelled.
	 * @param token the application's shutdown token
	 */
	public DefaultJobRegistry(ShutdownToken token) {
		this.token = Objects.requireNonNull(token, "token must not be null");
	}

	@Override
	public TrackedJob begin(String name) {
		return begin(name, JobKind.TRACKED);
	}

	/**
	 * Begins a job of the given kind on the calling thread, for the integrations that
	 * report where work came from.
	 * @param name a name for logs and the status endpoint; unique for
	 * {@link JobKind#BACKGROUND} jobs
	 * @param kind where the work came from
	 * @return the job, to close when the work is done
	 * @throws ShutdownInProgressException if the registry no longer accepts work
	 * @throws IllegalArgumentException if a background job of that name already exists
	 */
	public TrackedJob begin(String name, JobKind kind) {
		Objects.requireNonNull(name, "name must not be null");
		Objects.requireNonNull(kind, "kind must not be null");
		Job job = new Job(name, kind, Thread.currentThread());
		if (kind == JobKind.BACKGROUND && this.backgroundJobs.putIfAbsent(name, job) != null) {
			throw new IllegalArgumentException("A background job named '" + name + "' already exists");
		}
		if (!this.jobs.begin(job)) {
			if (kind == JobKind.BACKGROUND) {
				this.backgroundJobs.remove(name, job);
			}
			throw new ShutdownInProgressException("Cannot begin job '" + name + "': "
					+ (this.jobs.isDrained() ? "the application has shut down" : "the shutdown deadline has passed"));
		}
		if (kind == JobKind.BACKGROUND) {
			this.backgroundListeners.forEach((listener) -> listener.accept(name));
		}
		return job;
	}

	/**
	 * Calls the listener with the name of every background job begun so far, and of each
	 * one begun from now on, on the thread that begins it.
	 * @param listener told each name once
	 */
	public void onBackgroundJob(Consumer<String> listener) {
		this.backgroundListeners.add(listener);
		this.backgroundJobs.keySet().forEach(listener);
	}

	@Override
	public void run(String name, Runnable task) {
		try (TrackedJob job = begin(name)) {
			runAs(job, task);
		}
	}

	@Override
	public <T> T call(String name, Callable<T> task) throws Exception {
		try (TrackedJob job = begin(name)) {
			return callAs(job, task);
		}
	}

	@Override
	public Runnable track(String name, Runnable task) {
		return track(name, JobKind.TRACKED, task);
	}

	/**
	 * Tracks a task of the given kind from now; see {@link #track(String, Runnable)}.
	 * @param name the job's name
	 * @param kind where the work came from
	 * @param task the work
	 * @return a task that ends the job when it completes
	 * @throws ShutdownInProgressException if the registry no longer accepts work
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

	@Override
	public Runnable track(String name, Consumer<TrackedJob> task) {
		Objects.requireNonNull(task, "task must not be null");
		TrackedJob job = queued(begin(name));
		return () -> {
			try (job) {
				runAs(job, () -> task.accept(job));
			}
		};
	}

	@Override
	public <T> Callable<T> track(String name, Callable<T> task) {
		Objects.requireNonNull(task, "task must not be null");
		TrackedJob job = queued(begin(name));
		return () -> {
			try (job) {
				return callAs(job, task);
			}
		};
	}

	@Override
	public ExecutorService track(String name, ExecutorService executor) {
		Objects.requireNonNull(name, "name must not be null");
		Objects.requireNonNull(executor, "executor must not be null");
		return new TrackedExecutorService(name, executor);
	}

	// Queued work has no thread yet: the submitter's must not be reported or interrupted.
	private static TrackedJob queued(TrackedJob job) {
		((Job) job).runOn(null);
		return job;
	}

	private static void runAs(TrackedJob job, Runnable task) {
		((Job) job).runOn(Thread.currentThread());
		try {
			task.run();
		}
		catch (RuntimeException | Error ex) {
			job.fail(ex);
			throw ex;
		}
	}

	private static <T> T callAs(TrackedJob job, Callable<T> task) throws Exception {
		((Job) job).runOn(Thread.currentThread());
		try {
			return task.call();
		}
		catch (Exception | Error ex) {
			job.fail(ex);
			throw ex;
		}
	}

	// ---- What the sequence, the endpoint and the meters read ----------------------

	/**
	 * Returns how many jobs are active, of every kind; see
	 * {@link InFlightTracker#activeCount()}.
	 * @return the count
	 */
	public long activeCount() {
		return this.jobs.activeCount();
	}

	/**
	 * Returns how many jobs of one kind are active. It walks the active jobs, so it is
	 * meant for gauges and status pages, not hot paths.
	 * @param kind the kind
	 * @return the count
	 */
	public long activeCount(JobKind kind) {
		return this.jobs.collect().stream().filter((job) -> job.kind == kind).count();
	}

	/**
	 * Returns a snapshot of the active jobs, and of background jobs that have ended,
	 * oldest first.
	 * @return the jobs
	 */
	public List<JobInfo> jobs() {
		List<JobInfo> jobs = new ArrayList<>();
		boolean stopping = this.token.isShutdownRequested();
		for (Job job : this.jobs.collect()) {
			if (job.kind != JobKind.BACKGROUND) {
				jobs.add(job.info(stopping));
			}
		}
		for (Job job : this.backgroundJobs.values()) {
			jobs.add(job.info(stopping));
		}
		jobs.sort(Comparator.comparing(JobInfo::startedAt));
		return jobs;
	}

	/**
	 * Returns a future that completes the next time no job is active, without sealing
	 * the registry.
	 * @return a new future
	 */
	public CompletableFuture<Void> whenEmpty() {
		return this.jobs.whenEmpty();
	}

	/**
	 * Waits until no job is active, without sealing the registry.
	 * @param timeout the longest time to wait
	 * @return {@code true} if the registry became empty, {@code false} on timeout
	 * @throws InterruptedException if the waiting thread is interrupted
	 */
	public boolean awaitEmpty(Duration timeout) throws InterruptedException {
		return this.jobs.awaitEmpty(timeout);
	}

	InFlightTracker<Job> tracker() {
		return this.jobs;
	}

	// ---- ShutdownParticipant --------------------------------------------------------

	@Override
	public String name() {
		return Units.JOB;
	}

	/**
	 * Seals the registry the first time it is empty from now on: the last check and the
	 * switch to refusing are one step, so no job is accepted and then left unawaited.
	 */
	@Override
	public CompletionStage<?> drain() {
		return this.jobs.drain();
	}

	@Override
	public OptionalLong inFlightCount() {
		return OptionalLong.of(this.jobs.activeCount());
	}

	@Override
	public OptionalLong completedCount() {
		return OptionalLong.of(this.jobs.completedCount());
	}

	@Override
	public List<InFlight> inFlight() {
		return this.jobs.active().stream().map(Job::inFlight).toList();
	}

	@Override
	public List<InFlight> deadlinePassed() {
		// Sealed before listing: a job begun from here on is refused, and every job begun
		// before is in the list, so none goes unreported.
		this.jobs.close();
		return inFlight();
	}

	/**
	 * One job: its name, kind, progress, and how it ended.
	 */
	static final class Job extends InFlightTracker.Entry implements TrackedJob {

		private final String name;

		private final JobKind kind;

		private volatile JobInfo.@Nullable Progress progress;

		Job(String name, JobKind kind, Thread thread) {
			super(thread);
			this.name = name;
			this.kind = kind;
		}

		@Override
		public String name() {
			return this.name;
		}

		JobKind kind() {
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
			Objects.requireNonNull(cause, "cause must not be null");
			// The cause is the end mark itself: whoever sees the job failed sees why, and
			// a job carries no field for a failure that most jobs never have.
			end(cause);
		}

		@Override
		public void close() {
			end(JobState.STOPPED);
		}

		@Nullable Throwable failure() {
			return (endMark() instanceof Throwable cause) ? cause : null;
		}

		JobState state(boolean stopping) {
			Object end = endMark();
			if (end != null) {
				return (end instanceof Throwable) ? JobState.FAILED : JobState.STOPPED;
			}
			return stopping ? JobState.STOPPING : JobState.RUNNING;
		}

		JobInfo info(boolean stopping) {
			Throwable failure = failure();
			return new JobInfo(this.name, this.kind, state(stopping), startedAt(), this.progress,
					(failure != null) ? failure.toString() : null);
		}

		InFlight inFlight() {
			return new InFlight(toString(), startedAt(), thread());
		}

		@Override
		public String toString() {
			return this.kind + " job '" + this.name + "'";
		}

	}

	/**
	 * An executor service whose every task is a tracked job from the moment it is
	 * submitted.
	 */
	private final class TrackedExecutorService extends DelegatingExecutorService {

		TrackedExecutorService(String name, ExecutorService delegate) {
			super(name, delegate);
		}

		@Override
		public void execute(Runnable command) {
			// submit() and invokeAll() come here too, through AbstractExecutorService.
			TrackedJob job = queued(begin(name()));
			try {
				delegate().execute(() -> {
					try (job) {
						runAs(job, command);
					}
				});
			}
			catch (RuntimeException ex) {
				// Rejected: the caller hears of it, and there is nothing to wait for.
				job.close();
				throw ex;
			}
		}

	}

}
