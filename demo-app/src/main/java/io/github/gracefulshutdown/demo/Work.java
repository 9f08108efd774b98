package io.github.gracefulshutdown.demo;

import java.time.Duration;

/**
 * Simulated work that must not be cut in half: it does not watch the token, as a real
 * database transaction or file write would not.
 */
final class Work {

	private Work() {
	}

	static void perform(Duration duration) {
		long end = System.nanoTime() + duration.toNanos();
		long left;
		while ((left = end - System.nanoTime()) > 0) {
			try {
				Thread.sleep(Duration.ofNanos(left).toMillis() + 1);
			}
			catch (InterruptedException ex) {
				// Work in progress finishes; the interrupt is kept for the caller to see.
				Thread.currentThread().interrupt();
				return;
			}
		}
	}

}
