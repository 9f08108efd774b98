package io.github.gracefulshutdown.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

import org.jspecify.annotations.Nullable;

/**
 * What is in flight, for the job registry and the request counter alike: a striped
 * {@code sync.WaitGroup} whose entries know when they began, on which thread, and end
 * once.
 * <p>
 * {@link #begin} pushes an entry onto a stripe chosen by the calling thread, one
 * compare-and-set of the stripe's head; {@link Entry#end} is one compare-and-set of the
 * entry and one atomic add to its stripe's ended count. Threads working in different
 * stripes do not contend.
 * <p>
 * A tracker accepts entries until it is sealed. {@link #drain()} seals it at the first
 * moment it is empty, and {@link #close()} at once (the deadline). Sealing when empty is
 * one atomic step: an entry is either begun before the seal, and so awaited, or refused,
 * never accepted after the check that found the tracker empty. That is a Dekker pair: a
 * {@code begin} pushes, then reads the state; the sealing thread writes the state, then
 * reads the counts, so one of the two always sees the other. A {@code begin} that reads
 * the state while a seal is being decided waits for the decision on the seal's lock, the
 * only lock in the tracker, taken only while draining.
 * @param <E> the entry type
 */
public final class InFlightTracker<E extends InFlightTracker.Entry> {

	private static final int MAX_STRIPES = 64;

	private static final int OPEN = 0;

	private static final int DRAINING = 1;

	// A seal is being decided: the counts are read with new entries held back.
	private static final int SEALING = 2;

	private static final int SEALED = 3;

	private final Stripe[] stripes;

	private final int stripeShift;

	private final Queue<CompletableFuture<Void>> emptyWaiters = new ConcurrentLinkedQueue<>();

	private final CompletableFuture<Void> drained = new CompletableFuture<>();

	private final ReentrantLock sealLock = new ReentrantLock();

	private final LongAdder refused = new LongAdder();

	private volatile int state = OPEN;

	// Let a test act between the stripe reads of isEmpty(), and between a seal's check
	// and its verdict; always null in an application.
	volatile @Nullable IntConsumer afterStripeRead;

	volatile @Nullable Runnable beforeSealVerdict;

	/**
	 * Creates a tracker with twice as many stripes as there are processors, at least 4
	 * and at most {@value #MAX_STRIPES}.
	 */
	public InFlightTracker() {
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
	 * Begins tracking an entry, unless the tracker is sealed.
	 * @param entry a new entry, never begun before
	 * @return {@code true} if the entry is tracked until it ends, {@code false} if it was
	 * refused (it is then ended, and must not be run)
	 */
	public boolean begin(E entry) {
		Stripe stripe = this.stripes[stripeIndex(Thread.currentThread())];
		entry.stripe = stripe;
		stripe.push(entry);
		int state = this.state;
		while (state == SEALING) {
			// The seal is being decided with our push possibly unseen: wait for it.
			this.sealLock.lock();
			this.sealLock.unlock();
			state = this.state;
		}
		if (state == SEALED) {
			this.refused.increment();
			entry.end(Entry.REFUSED);
			return false;
		}
		return true;
	}

	@SuppressWarnings("deprecation") // Thread.threadId() is Java 19+; getId() is the same value.
	int stripeIndex(Thread thread) {
		// Fibonacci hashing spreads consecutive thread ids over different stripes.
		return (int) ((thread.getId() * 0x9E3779B97F4A7C15L) >>> this.stripeShift);
	}

	/**
	 * From now on, seals the tracker the first time it is empty (at once if it is now)
	 * and completes the returned stage then.
	 * @return a new stage, completed once the tracker has been sealed empty
	 */
	public CompletableFuture<Void> drain() {
		if (this.state == OPEN) {
			this.state = DRAINING;
		}
		sealIfEmpty();
		return this.drained.copy();
	}

	/**
	 * Seals the tracker at once, whatever is in flight: every later {@link #begin} is
	 * refused. What was begun before is listed by {@link #active()}, which is the point:
	 * the caller reports it.
	 */
	public void close() {
		this.sealLock.lock();
		try {
			this.state = SEALED;
		}
		finally {
			this.sealLock.unlock();
		}
	}

	/**
	 * Returns whether the tracker was sealed empty by {@link #drain()}.
	 * @return whether it drained
	 */
	public boolean isDrained() {
		return this.drained.isDone();
	}

	private void sealIfEmpty() {
		boolean sealed = false;
		this.sealLock.lock();
		try {
			if (this.state == DRAINING) {
				this.state = SEALING;
				sealed = isEmpty();
				Runnable beforeSealVerdict = this.beforeSealVerdict;
				if (beforeSealVerdict != null) {
					beforeSealVerdict.run();
				}
				this.state = sealed ? SEALED : DRAINING;
			}
		}
		finally {
			this.sealLock.unlock();
		}
		if (sealed) {
			// Outside the lock: what depends on the drain may begin work elsewhere.
			this.drained.complete(null);
		}
	}

	/**
	 * Returns how many entries are active. While entries begin and end concurrently the
	 * figure may include entries that ended during the call, never miss one that was
	 * active throughout it.
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
	 * Returns how many entries have ended since the tracker was created, refused ones
	 * not included.
	 * @return the count
	 */
	public long completedCount() {
		long count = 0;
		for (Stripe stripe : this.stripes) {
			count += stripe.ended;
		}
		return count - this.refused.sum();
	}

	/**
	 * Returns the active entries, oldest first.
	 * @return a snapshot
	 */
	public List<E> active() {
		List<E> entries = collect();
		entries.sort(Comparator.comparingLong(Entry::startedAtMillis));
		return entries;
	}

	/**
	 * Returns the active entries in no particular order, for a caller that sorts what it
	 * lists once, with entries of its own.
	 * @return a snapshot
	 */
	@SuppressWarnings("unchecked")
	public List<E> collect() {
		List<E> entries = new ArrayList<>();
		for (Stripe stripe : this.stripes) {
			stripe.sweep();
			for (Entry entry = stripe.head; entry != null; entry = entry.next) {
				if (entry.isActive()) {
					entries.add((E) entry);
				}
			}
		}
		return entries;
	}

	/**
	 * Returns a future that completes the next time no entry is active (at once if none
	 * is). It is completed by the end that empties the tracker, and does not seal it.
	 * @return a new future
	 */
	public CompletableFuture<Void> whenEmpty() {
		CompletableFuture<Void> waiter = new CompletableFuture<>();
		this.emptyWaiters.add(waiter);
		// Publish the waiter before reading the counts; ended() does the reverse, so one
		// of the two always sees the other.
		if (isEmpty()) {
			completeEmptyWaiters();
		}
		return waiter;
	}

	/**
	 * Waits until no entry is active.
	 * @param timeout the longest time to wait
	 * @return {@code true} if the tracker became empty, {@code false} on timeout
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
	 * How many entries the stripes still link, ended ones not yet swept included: tests
	 * check that it stays bounded.
	 */
	long linkedCount() {
		long count = 0;
		for (Stripe stripe : this.stripes) {
			for (Entry entry = stripe.head; entry != null; entry = entry.next) {
				count++;
			}
		}
		return count;
	}

	private void ended() {
		if (this.state == DRAINING) {
			sealIfEmpty();
		}
		if (!this.emptyWaiters.isEmpty() && isEmpty()) {
			completeEmptyWaiters();
		}
	}

	private void completeEmptyWaiters() {
		// A begin racing with us makes the tracker non-empty again; its own end will then
		// complete the waiters, so none is left behind.
		CompletableFuture<Void> waiter;
		while (isEmpty() && (waiter = this.emptyWaiters.poll()) != null) {
			waiter.complete(null);
		}
	}

	/**
	 * Whether there was a moment, during this call, when no entry was active. Summing the
	 * stripes once is not enough: an entry could begin in a stripe already read while
	 * another ends in a stripe not read yet, and the sum would be zero although the
	 * tracker was never empty. So the first pass checks every stripe is empty and the
	 * second that nothing began in any stripe since the first pass read it. Between the
	 * passes, then, every stripe was empty at once.
	 */
	boolean isEmpty() {
		IntConsumer afterStripeRead = this.afterStripeRead;
		long[] begun = new long[this.stripes.length];
		for (int i = 0; i < this.stripes.length; i++) {
			// Ended before begun: an entry that begins and ends between the reads then
			// counts as active, never the reverse.
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
	 * One unit in flight. Subclasses add what they describe; the tracker keeps when it
	 * began, the thread working on it, and whether it has ended.
	 */
	public abstract static class Entry {

		static final Object REFUSED = new Object();

		private static final VarHandle END_MARK;

		private static final VarHandle THREAD;

		private static final VarHandle NEXT;

		static {
			try {
				MethodHandles.Lookup lookup = MethodHandles.lookup();
				END_MARK = lookup.findVarHandle(Entry.class, "endMark", Object.class);
				THREAD = lookup.findVarHandle(Entry.class, "thread", Thread.class);
				NEXT = lookup.findVarHandle(Entry.class, "next", Entry.class);
			}
			catch (ReflectiveOperationException ex) {
				throw new ExceptionInInitializerError(ex);
			}
		}

		private final long startedAtMillis = System.currentTimeMillis();

		// Set by begin(), before the entry is published.

		Stripe stripe;

		// Set once, by a compare-and-set, so an entry ends once; null while active.
		private volatile @Nullable Object endMark;

		private volatile @Nullable Thread thread;

		// The next older entry in the stripe, and this entry's number in it.
		volatile @Nullable Entry next;

		long seq;

		/**
		 * Creates an entry.
		 * @param thread the thread working on it, or {@code null} for none yet
		 */
		protected Entry(@Nullable Thread thread) {
			// A plain write: pushing the entry onto its stripe publishes it, and a
			// volatile write here would cost a fence on every begin.
			THREAD.set(this, thread);
		}

		/**
		 * Ends the entry with a mark of the subclass's choosing, if it has not ended yet.
		 * @param mark what the end was, read back by {@link #endMark()}
		 * @return {@code true} if this call ended it
		 */
		protected final boolean end(Object mark) {
			if (END_MARK.compareAndSet(this, null, mark)) {
				this.stripe.ended();
				return true;
			}
			return false;
		}

		/**
		 * Returns the mark the entry ended with.
		 * @return the mark, or {@code null} while active
		 */
		protected final @Nullable Object endMark() {
			return this.endMark;
		}

		/**
		 * Returns whether the entry has not ended.
		 * @return whether it is active
		 */
		public final boolean isActive() {
			return this.endMark == null;
		}

		/**
		 * Binds the entry to the thread now working on it, or to none.
		 * @param thread the thread, or {@code null}
		 */
		protected final void runOn(@Nullable Thread thread) {
			this.thread = thread;
		}

		/**
		 * Returns the thread working on the entry.
		 * @return the thread, or {@code null} when none is
		 */
		public final @Nullable Thread thread() {
			return this.thread;
		}

		/**
		 * Returns when the entry began, in epoch milliseconds.
		 * @return the time
		 */
		public final long startedAtMillis() {
			return this.startedAtMillis;
		}

		/**
		 * Returns when the entry began.
		 * @return the instant
		 */
		public final Instant startedAt() {
			return Instant.ofEpochMilli(this.startedAtMillis);
		}

		void link(@Nullable Entry next) {
			NEXT.set(this, next);
			this.seq = (next != null) ? next.seq + 1 : 1;
		}

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
	 * One stripe: a list that {@code begin} pushes onto with one compare-and-set of its
	 * head, and a count of the entries that ended in it. Ending an entry only marks it
	 * and adds one to that count; ended entries are unlinked later, in a sweep that one
	 * thread at a time runs once enough entries have begun since the last sweep. So
	 * {@code begin} and {@code end} never search the list, and a sweep costs at most a few
	 * steps per entry begun. The newest entry, the head, is never unlinked: its sequence
	 * number is the count of entries ever begun in the stripe.
	 */
	private abstract static class StripeFields extends PaddingBefore {

		private static final VarHandle HEAD;

		private static final VarHandle ENDED;

		private static final VarHandle SWEEPING;

		static {
			try {
				MethodHandles.Lookup lookup = MethodHandles.lookup();
				HEAD = lookup.findVarHandle(StripeFields.class, "head", Entry.class);
				ENDED = lookup.findVarHandle(StripeFields.class, "ended", long.class);
				SWEEPING = lookup.findVarHandle(StripeFields.class, "sweeping", boolean.class);
			}
			catch (ReflectiveOperationException ex) {
				throw new ExceptionInInitializerError(ex);
			}
		}

		// Sweeps run when at least this many entries have begun since the last one, and
		// at least as many as were active after it, so that their cost is spread thinly.
		private static final long SWEEP_EVERY = 64;

		final InFlightTracker<?> tracker;

		volatile @Nullable Entry head;

		volatile long ended;

		private volatile boolean sweeping;

		// Written only by the sweeping thread; read by push to decide when to sweep next.
		private volatile long nextSweepAt = SWEEP_EVERY;

		StripeFields(InFlightTracker<?> tracker) {
			this.tracker = tracker;
		}

		long begun() {
			Entry head = this.head;
			return (head != null) ? head.seq : 0;
		}

		void push(Entry entry) {
			Entry head;
			do {
				head = this.head;
				entry.link(head);
			}
			while (!HEAD.compareAndSet(this, head, entry));
			if (entry.seq >= this.nextSweepAt) {
				sweep();
			}
		}

		void ended() {
			ENDED.getAndAdd(this, 1L);
			this.tracker.ended();
		}

		/**
		 * Unlinks the ended entries behind the head, unless another thread is already at
		 * it. Pushes only ever change the head, and only the sweeping thread changes a
		 * link behind it, so no unlink is lost; a reader walking the list meanwhile still
		 * reaches every entry that was in it, through the unlinked entry's own link.
		 */
		void sweep() {
			if (!SWEEPING.compareAndSet(this, false, true)) {
				return;
			}
			try {
				Entry head = this.head;
				if (head == null) {
					return;
				}
				long active = 1;
				Entry previous = head;
				for (Entry entry = head.next; entry != null; entry = entry.next) {
					if (!entry.isActive()) {
						previous.next = entry.next;
					}
					else {
						previous = entry;
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

		Stripe(InFlightTracker<?> tracker) {
			super(tracker);
		}

	}

}
