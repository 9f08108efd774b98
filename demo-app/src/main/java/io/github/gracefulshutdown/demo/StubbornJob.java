package io.github.gracefulshutdown.demo;

import io.github.gracefulshutdown.Background;

import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.stereotype.Component;

/**
 * A job that ignores the token and swallows interrupts: the worst case. Shutdown must
 * still end by the deadline and name it as a straggler. Off unless
 * {@code demo.stubborn.enabled=true}.
 */
@Component
@ConditionalOnBooleanProperty("demo.stubborn.enabled")
class StubbornJob {

	@Background(name = "stubborn")
	void ignoreEveryone() {
		while (true) {
			try {
				Thread.sleep(500);
			}
			catch (InterruptedException ex) {
				// Deliberately ignored.
			}
		}
	}

}
