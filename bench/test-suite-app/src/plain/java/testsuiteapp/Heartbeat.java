package testsuiteapp;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * A heartbeat every 100 ms, written without the starter: its own thread, started and
 * stopped with the context. (src/starter/java has the same class as a {@code @Background}
 * job.)
 */
@Component
public class Heartbeat implements SmartLifecycle {

	private final AtomicLong beats = new AtomicLong();

	private final CountDownLatch firstBeat = new CountDownLatch(1);

	private final CountDownLatch stop = new CountDownLatch(1);

	private volatile Thread thread;

	@Override
	public void start() {
		Thread thread = new Thread(this::beat, "heartbeat");
		thread.start();
		this.thread = thread;
	}

	private void beat() {
		try {
			// Waits on the latch, so stop() wakes it at once.
			while (!this.stop.await(100, TimeUnit.MILLISECONDS)) {
				this.beats.incrementAndGet();
				this.firstBeat.countDown();
			}
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	@Override
	public void stop() {
		this.stop.countDown();
		Thread thread = this.thread;
		if (thread != null) {
			try {
				thread.join(5000);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
			}
		}
		this.thread = null;
	}

	@Override
	public boolean isRunning() {
		return this.thread != null;
	}

	/**
	 * Returns how many beats there were.
	 * @return the count
	 */
	public long beats() {
		return this.beats.get();
	}

	/**
	 * Waits for the first beat.
	 * @param timeout how long at most
	 * @return whether it came in time
	 * @throws InterruptedException if interrupted while waiting
	 */
	public boolean awaitFirstBeat(Duration timeout) throws InterruptedException {
		return this.firstBeat.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
	}

}
