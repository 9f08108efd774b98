package io.github.gracefulshutdown.demo;

import java.time.Duration;

/**
 * Simulated work that must not be cut in half: it does not watch the token, as a real
 * database transaction or file write would not.
 */
final class Work {

	private Work() {
	}

	/**
	 * Works for the duration unless the thread is interrupted.
	 * @return whether the work completed; after an interrupt it did not, and the
	 * interrupt flag stays set for the caller to see
	 */
	static boolean perform(Duration duration) {
		long end = System.nanoTime() + duration.toNanos();
		long left;
		while ((left = end - System.nanoTime()) > 0) {
			try {
				Thread.sleep(Duration.ofNanos(left).toMillis() + 1);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
				return false;
			}
		}
		return true;
	}

}
