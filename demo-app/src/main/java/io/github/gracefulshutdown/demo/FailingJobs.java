package io.github.gracefulshutdown.demo;

import java.time.Duration;

import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.FailurePolicy;
import io.github.gracefulshutdown.ShutdownToken;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.stereotype.Component;

/**
 * A job named {@code flaky} that fails after {@code demo.failing.after}, once per run,
 * under the policy chosen with {@code demo.failing=restart|stop|shutdown}. Off unless
 * set.
 */
final class FailingJobs {

	private FailingJobs() {
	}

	/**
	 * The failing run every policy shares; only the annotated method differs, since a
	 * policy is an annotation attribute.
	 */
	abstract static class Flaky {

		@Value("${demo.failing.after:500ms}")
		private Duration after;

		void failAfterDelay(ShutdownToken token) {
			if (token.sleep(this.after)) {
				throw new IllegalStateException("the ledger service answered 500");
			}
		}

	}

	@Component
	@ConditionalOnProperty(name = "demo.failing", havingValue = "restart")
	static class Restarting extends Flaky {

		@Background(name = "flaky", onFailure = FailurePolicy.RESTART)
		void run(ShutdownToken token) {
			failAfterDelay(token);
		}

	}

	@Component
	@ConditionalOnProperty(name = "demo.failing", havingValue = "stop")
	static class Stopping extends Flaky {

		@Background(name = "flaky", onFailure = FailurePolicy.STOP)
		void run(ShutdownToken token) {
			failAfterDelay(token);
		}

	}

	@Component
	@ConditionalOnProperty(name = "demo.failing", havingValue = "shutdown")
	static class ShuttingDown extends Flaky {

		@Background(name = "flaky", onFailure = FailurePolicy.SHUTDOWN)
		void run(ShutdownToken token) {
			failAfterDelay(token);
		}

	}

}
