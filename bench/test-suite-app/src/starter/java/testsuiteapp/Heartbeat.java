package testsuiteapp;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.ShutdownToken;

import org.springframework.stereotype.Component;

/**
 * A heartbeat every 100 ms, as a {@code @Background} job that stops when the token says so.
 * (src/plain/java has the same class written without the starter.)
 */
@Component
public class Heartbeat {

	private final AtomicLong beats = new AtomicLong();

	private final CountDownLatch firstBeat = new CountDownLatch(1);

	@Background(name = "heartbeat")
	void beat(ShutdownToken token) {
		while (token.sleep(Duration.ofMillis(100))) {
			this.beats.incrementAndGet();
			this.firstBeat.countDown();
		}
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
