package io.github.gracefulshutdown.test;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.JobRegistry;
import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.TrackedJob;
import io.github.gracefulshutdown.core.ShutdownState;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

/**
 * A user's test, as the README shows it: a {@code @SpringBootTest} with the drain delay
 * where a Kubernetes user puts it, two tests that each rehearse a shutdown of the cached
 * context (the second gets a fresh one), one that drains and one with a straggler.
 */
@SpringBootTest(classes = ShutdownRehearsalTests.App.class,
		properties = { "graceful-shutdown.drain-delay=5s", "spring.lifecycle.timeout-per-shutdown-phase=1s" })
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ShutdownRehearsalTests {

	@Autowired
	ConfigurableApplicationContext context;

	@Autowired
	JobRegistry jobs;

	@Test
	@Order(1)
	void jobsThatHonourTheTokenDrainAndTheDrainDelayIsSkipped() throws Exception {
		startJob("import-1", (token) -> token.sleep(Duration.ofMinutes(1)));
		startJob("import-2", (token) -> token.sleep(Duration.ofMinutes(1)));
		ShutdownVerdict verdict = ShutdownRehearsal.shutDown(this.context);
		// Two tracked jobs and the @Background one; well under the 5 s drain delay.
		assertThat(verdict).isCompleted().tookLessThan(Duration.ofSeconds(3)).hasDrained("job", 3).hasNoStragglers();
		assertThat(verdict.state()).isEqualTo(ShutdownState.COMPLETED);
		assertThat(verdict.toString()).startsWith("Graceful shutdown COMPLETED in ")
			.endsWith(": 3 jobs stopped, 0 stragglers");
		assertThat(this.context.isActive()).isFalse();
	}

	@Test
	@Order(2)
	void aJobThatIgnoresTheTokenIsNamedAsAStraggler() throws Exception {
		// A fresh context: the first test's was taken out of Spring's cache.
		assertThat(this.context.isActive()).isTrue();
		startJob("deaf", (token) -> {
			try {
				Thread.sleep(60_000);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
			}
		});
		ShutdownVerdict verdict = ShutdownRehearsal.shutDown(this.context);
		assertThat(verdict).isTimedOut().hasStragglers("TRACKED job 'deaf'").hasDrained("job", 1);
		assertThat(verdict.stragglers()).singleElement().satisfies((straggler) -> {
			assertThat(straggler.participant()).isEqualTo("job");
			assertThat(straggler.thread()).isEqualTo("job-deaf");
			assertThat(straggler.age()).isGreaterThanOrEqualTo(Duration.ofMillis(900));
		});
		assertThatExceptionOfType(AssertionError.class).isThrownBy(() -> assertThat(verdict).isCompleted())
			.withMessageContaining("Expected the shutdown to end COMPLETED, but it ended TIMED_OUT")
			.withMessageContaining("1 straggler (TRACKED job 'deaf')");
		assertThatExceptionOfType(AssertionError.class).isThrownBy(() -> assertThat(verdict).hasNoStragglers());
		assertThatIllegalStateException().isThrownBy(() -> ShutdownRehearsal.shutDown(this.context))
			.withMessageContaining("is already closed");
	}

	@Test
	@Order(3)
	void aContextWithoutGracefulShutdownSaysSo() {
		new ApplicationContextRunner().withUserConfiguration(App.class)
			.withPropertyValues("graceful-shutdown.enabled=false")
			.run((context) -> assertThatIllegalStateException()
				.isThrownBy(() -> ShutdownRehearsal.shutDown(context.getSourceApplicationContext()))
				.withMessageContaining("graceful-shutdown.enabled is false"));
	}

	@Test
	@Order(4)
	void aContextFromAnApplicationContextRunnerCanBeRehearsedToo() {
		// Not a test context: the drain delay of 1 s applies there. A runner publishes no
		// ApplicationReadyEvent, so no @Background job starts: a tracked one stands in.
		new ApplicationContextRunner().withUserConfiguration(App.class)
			.withPropertyValues("graceful-shutdown.drain-delay=1s")
			.run((context) -> {
				startJob(context.getBean(JobRegistry.class), context.getBean(ShutdownToken.class), "import",
						(token) -> token.sleep(Duration.ofMinutes(1)));
				ShutdownVerdict verdict = ShutdownRehearsal.shutDown(context.getSourceApplicationContext());
				assertThat(verdict).isCompleted().hasDrained("job", 1).hasNoStragglers();
				assertThat(verdict.took()).isGreaterThanOrEqualTo(Duration.ofMillis(950));
			});
	}

	private void startJob(String name, java.util.function.Consumer<ShutdownToken> work) throws InterruptedException {
		startJob(this.jobs, this.context.getBean(ShutdownToken.class), name, work);
	}

	private static void startJob(JobRegistry jobs, ShutdownToken token, String name,
			java.util.function.Consumer<ShutdownToken> work) throws InterruptedException {
		CountDownLatch begun = new CountDownLatch(1);
		Thread thread = new Thread(() -> {
			try (TrackedJob job = jobs.begin(name)) {
				begun.countDown();
				work.accept(token);
			}
		}, "job-" + name);
		thread.start();
		assertThat(begun.await(10, TimeUnit.SECONDS)).isTrue();
	}

	@SpringBootConfiguration
	@EnableAutoConfiguration
	static class App {

		@Bean
		Ticker ticker() {
			return new Ticker();
		}

	}

	static class Ticker {

		@Background
		void tick(ShutdownToken token) {
			while (token.sleep(Duration.ofMillis(50))) {
				// A unit of work per tick.
			}
		}

	}

}
