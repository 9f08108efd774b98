package io.github.gracefulshutdown.task;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownTaskAutoConfiguration;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobInfo;
import io.github.gracefulshutdown.core.JobKind;
import org.junit.jupiter.api.Test;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.autoconfigure.task.TaskExecutionAutoConfiguration;
import org.springframework.boot.autoconfigure.task.TaskSchedulingAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.task.TaskDecorator;
import org.springframework.scheduling.annotation.Async;
import org.springframework.scheduling.annotation.EnableAsync;
import org.springframework.scheduling.annotation.EnableScheduling;
import org.springframework.scheduling.annotation.Scheduled;

import static org.assertj.core.api.Assertions.assertThat;

class TaskTrackingTests {

	private final ApplicationContextRunner runner = new ApplicationContextRunner()
		.withConfiguration(AutoConfigurations.of(LifecycleAutoConfiguration.class,
				GracefulShutdownAutoConfiguration.class, GracefulShutdownTaskAutoConfiguration.class,
				TaskExecutionAutoConfiguration.class, TaskSchedulingAutoConfiguration.class));

	@Test
	void asyncWorkIsTrackedFromSubmissionNamedAfterItsMethod() {
		this.runner.withUserConfiguration(AsyncConfiguration.class).run((context) -> {
			AsyncWorker worker = context.getBean(AsyncWorker.class);
			DefaultJobRegistry registry = context.getBean(DefaultJobRegistry.class);
			worker.work();
			assertThat(worker.awaitStarted()).isTrue();
			assertThat(registry.jobs()).extracting(JobInfo::name, JobInfo::kind)
				.containsExactly(org.assertj.core.groups.Tuple.tuple("asyncWorker.work", JobKind.ASYNC));
			worker.release();
			assertThat(registry.whenEmpty()).succeedsWithin(Duration.ofSeconds(5));
		});
	}

	@Test
	void theUsersOwnTaskDecoratorIsWrappedNotReplaced() {
		this.runner.withUserConfiguration(AsyncConfiguration.class, DecoratorConfiguration.class).run((context) -> {
			AsyncWorker worker = context.getBean(AsyncWorker.class);
			worker.work();
			assertThat(worker.awaitStarted()).isTrue();
			assertThat(context.getBean(DefaultJobRegistry.class).activeCount(JobKind.ASYNC)).isOne();
			assertThat(DecoratorConfiguration.decorated).hasValue(1);
			worker.release();
		});
	}

	@Test
	void asyncWorkSubmittedWhileDrainingIsAcceptedAndAwaitedWithinTheOneDeadline() {
		// Spring Boot's own executor shutdown waits too; our sequence has already awaited
		// the work, so closing takes about as long as the work, not the work plus a wait.
		this.runner.withUserConfiguration(AsyncConfiguration.class)
			.withPropertyValues("spring.task.execution.shutdown.await-termination=true",
					"spring.task.execution.shutdown.await-termination-period=10s",
					"spring.lifecycle.timeout-per-shutdown-phase=5s")
			.run((context) -> {
				AsyncWorker worker = context.getBean(AsyncWorker.class);
				ShutdownToken token = context.getBean(ShutdownToken.class);
				AtomicLong submittedWhileDraining = new AtomicLong();
				token.onShutdown(() -> {
					// A request still draining hands work off.
					worker.timed(600, submittedWhileDraining);
				});
				long start = System.nanoTime();
				context.close();
				Duration took = Duration.ofNanos(System.nanoTime() - start);
				assertThat(submittedWhileDraining.get()).as("the work ran to its end").isPositive();
				assertThat(took).isBetween(Duration.ofMillis(600), Duration.ofMillis(4000));
			});
	}

	@Test
	void asyncWorkSubmittedWhileDrainingIsAcceptedAndAwaitedWithSpringBootsDefaultExecutorSettings() {
		// Without tracking, nothing would wait for this work: bean destruction would
		// interrupt it. The starter also keeps the executor accepting tasks after the
		// context starts to close.
		this.runner.withUserConfiguration(AsyncConfiguration.class).run((context) -> {
			AsyncWorker worker = context.getBean(AsyncWorker.class);
			DefaultJobRegistry registry = context.getBean(DefaultJobRegistry.class);
			AtomicLong submittedWhileDraining = new AtomicLong();
			AtomicLong trackedWhileDraining = new AtomicLong(-1);
			context.getBean(ShutdownToken.class).onShutdown(() -> {
				worker.timed(1500, submittedWhileDraining);
				trackedWhileDraining.set(registry.activeCount(JobKind.ASYNC));
			});
			context.close();
			assertThat(trackedWhileDraining).as("tracked, so inside our budget").hasValue(1);
			assertThat(submittedWhileDraining.get()).as("ran to its end").isPositive();
		});
	}

	@Test
	void scheduledRunsAreTrackedAndNoneStartsOnceShutdownBegins() {
		this.runner.withUserConfiguration(SchedulingConfiguration.class).run((context) -> {
			Ticker ticker = context.getBean(Ticker.class);
			DefaultJobRegistry registry = context.getBean(DefaultJobRegistry.class);
			assertThat(ticker.running.await(5, TimeUnit.SECONDS)).isTrue();
			assertThat(registry.jobs()).extracting(JobInfo::name, JobInfo::kind)
				.contains(org.assertj.core.groups.Tuple.tuple("ticker.tick", JobKind.SCHEDULED));
			ticker.release.countDown();
			context.close();
			int runsAtClose = ticker.runs.get();
			Thread.sleep(200);
			assertThat(ticker.runs.get()).isEqualTo(runsAtClose);
			assertThat(ticker.endedAfterStart).isTrue();
		});
	}

	@Test
	void trackAsyncFalseTracksNothing() {
		this.runner.withUserConfiguration(AsyncConfiguration.class)
			.withPropertyValues("graceful-shutdown.track-async=false")
			.run((context) -> {
				assertThat(context).doesNotHaveBean(ScheduledTaskTracking.class);
				AsyncWorker worker = context.getBean(AsyncWorker.class);
				worker.work();
				assertThat(worker.awaitStarted()).isTrue();
				assertThat(context.getBean(DefaultJobRegistry.class).activeCount()).isZero();
				worker.release();
			});
	}

	@Test
	void namesComeFromTheScheduledMethodAndTheProxy() {
		assertThat(ScheduledTaskTracking.name(new Runnable() {
			@Override
			public void run() {
			}

			@Override
			public String toString() {
				return "com.example.billing.NightlyReports.send";
			}
		})).isEqualTo("nightlyReports.send");
		assertThat(ScheduledTaskTracking.name(() -> {
		})).isEqualTo("scheduled");
		assertThat(AsyncTaskTracking.beanName("com.example.Mailer$$SpringCGLIB$$0")).isEqualTo("mailer");
		assertThat(AsyncTaskTracking.beanName("com.example.Outer$Inner$$SpringCGLIB$$0")).isEqualTo("inner");
	}

	@Configuration(proxyBeanMethods = false)
	@EnableAsync
	static class AsyncConfiguration {

		@Bean
		AsyncWorker asyncWorker() {
			return new AsyncWorker();
		}

	}

	// Proxied for @Async: the test reaches its state through methods, not fields.
	static class AsyncWorker {

		private final CountDownLatch started = new CountDownLatch(1);

		private final CountDownLatch release = new CountDownLatch(1);

		public boolean awaitStarted() throws InterruptedException {
			return this.started.await(5, TimeUnit.SECONDS);
		}

		public void release() {
			this.release.countDown();
		}

		@Async
		public void work() {
			this.started.countDown();
			try {
				this.release.await(10, TimeUnit.SECONDS);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
			}
		}

		@Async
		public void timed(long millis, AtomicLong done) {
			try {
				Thread.sleep(millis);
				done.set(System.nanoTime());
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
			}
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class DecoratorConfiguration {

		static final AtomicInteger decorated = new AtomicInteger();

		@Bean
		TaskDecorator usersOwnDecorator() {
			return (runnable) -> () -> {
				decorated.incrementAndGet();
				runnable.run();
			};
		}

	}

	@Configuration(proxyBeanMethods = false)
	@EnableScheduling
	static class SchedulingConfiguration {

		@Bean
		Ticker ticker() {
			return new Ticker();
		}

	}

	static class Ticker {

		final CountDownLatch running = new CountDownLatch(1);

		final CountDownLatch release = new CountDownLatch(1);

		final AtomicInteger runs = new AtomicInteger();

		final List<Long> ends = new CopyOnWriteArrayList<>();

		volatile boolean endedAfterStart;

		@Scheduled(fixedDelay = 20)
		void tick() throws InterruptedException {
			this.runs.incrementAndGet();
			this.running.countDown();
			this.release.await(10, TimeUnit.SECONDS);
			this.endedAfterStart = true;
		}

	}

}
