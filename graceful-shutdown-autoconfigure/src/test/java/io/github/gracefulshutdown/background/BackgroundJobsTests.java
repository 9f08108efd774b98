package io.github.gracefulshutdown.background;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.FailurePolicy;
import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.core.CancellableToken;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobInfo;
import io.github.gracefulshutdown.core.JobKind;
import io.github.gracefulshutdown.core.JobState;
import io.micrometer.observation.ObservationRegistry;
import org.aopalliance.intercept.MethodInterceptor;
import org.aopalliance.intercept.MethodInvocation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.aop.framework.ProxyFactory;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Lazy;
import org.springframework.context.annotation.Scope;

import static org.assertj.core.api.Assertions.assertThat;

@ExtendWith(OutputCaptureExtension.class)
class BackgroundJobsTests {

	private final ApplicationContextRunner runner = new ApplicationContextRunner()
		.withConfiguration(
				AutoConfigurations.of(LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class))
		.withPropertyValues("graceful-shutdown.restart-backoff.initial=50ms",
				"graceful-shutdown.restart-backoff.max=200ms");

	@Test
	void jobsStartWhenReadyOnTheirOwnNamedThreadAndStopOnTheToken(CapturedOutput output) {
		this.runner.withBean("poller", Poller.class).run((context) -> {
			Poller poller = context.getBean(Poller.class);
			assertThat(poller.started.getCount()).as("not started before ready").isOne();
			ready(context);
			assertThat(poller.started.await(5, TimeUnit.SECONDS)).isTrue();
			assertThat(poller.threadName).isEqualTo("background-poller.poll");
			DefaultJobRegistry registry = context.getBean(DefaultJobRegistry.class);
			assertThat(registry.jobs()).singleElement().satisfies((job) -> {
				assertThat(job.name()).isEqualTo("poller.poll");
				assertThat(job.kind()).isEqualTo(JobKind.BACKGROUND);
				assertThat(job.state()).isEqualTo(JobState.RUNNING);
			});
			context.close();
			assertThat(poller.stoppedCleanly).isTrue();
			assertThat(registry.jobs()).extracting(JobInfo::state).containsExactly(JobState.STOPPED);
			assertThat(output).contains("Started 1 background job: [poller.poll]")
				.contains("Graceful shutdown COMPLETED");
		});
	}

	@Test
	@EnabledForJreRange(min = JRE.JAVA_21)
	void jobsRunOnVirtualThreadsWhenEnabled() {
		this.runner.withBean("poller", Poller.class)
			.withPropertyValues("spring.threads.virtual.enabled=true")
			.run((context) -> {
				ready(context);
				Poller poller = context.getBean(Poller.class);
				assertThat(poller.started.await(5, TimeUnit.SECONDS)).isTrue();
				assertThat(poller.virtual).isTrue();
				assertThat(poller.threadName).isEqualTo("background-poller.poll");
			});
	}

	@Test
	void restartPolicyBacksOffExponentiallyAndLogsEachFailure(CapturedOutput output) {
		this.runner.withBean("flaky", Flaky.class).run((context) -> {
			ready(context);
			Flaky flaky = context.getBean(Flaky.class);
			assertThat(flaky.recovered.await(10, TimeUnit.SECONDS)).isTrue();
			assertThat(flaky.calls).hasValue(4);
			assertThat(output).contains("Background job 'flaky' failed (failure 1); restarting in 50 ms")
				.contains("Background job 'flaky' failed (failure 2); restarting in 100 ms")
				.contains("Background job 'flaky' failed (failure 3); restarting in 200 ms");
			assertThat(flaky.gaps.get(1)).isGreaterThanOrEqualTo(Duration.ofMillis(100));
			assertThat(flaky.gaps.get(2)).isGreaterThanOrEqualTo(Duration.ofMillis(200));
			assertThat(context.getBean(DefaultJobRegistry.class).jobs()).extracting(JobInfo::state)
				.containsExactly(JobState.RUNNING);
		});
	}

	@Test
	void shutdownDuringARestartBackoffEndsTheJobAtOnce(CapturedOutput output) {
		this.runner.withBean("failing", AlwaysFailing.class)
			.withPropertyValues("graceful-shutdown.restart-backoff.initial=1m", "graceful-shutdown.restart-backoff.max=1m")
			.run((context) -> {
				ready(context);
				AlwaysFailing failing = context.getBean(AlwaysFailing.class);
				assertThat(failing.failed.await(5, TimeUnit.SECONDS)).isTrue();
				Thread.sleep(50);
				DefaultJobRegistry registry = context.getBean(DefaultJobRegistry.class);
				assertThat(registry.jobs()).singleElement()
					.satisfies((job) -> assertThat(job.progress().message()).startsWith("restarting in 60000 ms"));
				long start = System.nanoTime();
				context.close();
				assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
				assertThat(failing.calls).hasValue(1);
				assertThat(registry.jobs()).extracting(JobInfo::state).containsExactly(JobState.STOPPED);
			});
	}

	@Test
	void stopPolicyLeavesTheJobFailed(CapturedOutput output) {
		this.runner.withBean("once", FailsOnceAndStops.class).run((context) -> {
			ready(context);
			FailsOnceAndStops job = context.getBean(FailsOnceAndStops.class);
			assertThat(job.failed.await(5, TimeUnit.SECONDS)).isTrue();
			DefaultJobRegistry registry = context.getBean(DefaultJobRegistry.class);
			awaitState(registry, JobState.FAILED);
			Thread.sleep(200);
			assertThat(job.calls).hasValue(1);
			assertThat(output).contains("Background job 'once' failed; stopped by its policy (onFailure = STOP)");
		});
	}

	@Test
	void aJobThatReturnsIsLoggedAndNotRestarted(CapturedOutput output) {
		this.runner.withBean("quick", Quick.class).run((context) -> {
			ready(context);
			DefaultJobRegistry registry = context.getBean(DefaultJobRegistry.class);
			awaitState(registry, JobState.STOPPED);
			Thread.sleep(200);
			assertThat(context.getBean(Quick.class).calls).hasValue(1);
			assertThat(output).contains("Background job 'quick.run' returned before shutdown; it will not be restarted");
		});
	}

	@Test
	void shutdownPolicyClosesTheApplicationWithStatusOne() throws Exception {
		CancellableToken token = new CancellableToken();
		DefaultJobRegistry registry = new DefaultJobRegistry(token);
		List<Integer> statuses = new CopyOnWriteArrayList<>();
		CountDownLatch exited = new CountDownLatch(1);
		BackgroundJob job = new BackgroundJob("fatal", new FailsOnceAndStops(),
				FailsOnceAndStops.class.getDeclaredMethod("run"), FailurePolicy.SHUTDOWN, token, registry,
				new BackgroundJobProcessor.Backoff(Duration.ofMillis(10), Duration.ofMillis(10)), (status) -> {
					statuses.add(status);
					exited.countDown();
				}, new CountDownLatch(1), new CountDownLatch(1), ObservationRegistry.NOOP);
		Thread thread = new Thread(job);
		thread.start();
		thread.join(5000);
		assertThat(exited.await(5, TimeUnit.SECONDS)).isTrue();
		assertThat(statuses).containsExactly(1);
		assertThat(registry.jobs()).extracting(JobInfo::state).containsExactly(JobState.FAILED);
		assertThat(registry.activeCount()).as("the job ended before the context closes").isZero();
	}

	@Test
	void backoffDoublesUpToItsCap() {
		BackgroundJobProcessor.Backoff backoff = new BackgroundJobProcessor.Backoff(Duration.ofMillis(100), Duration.ofSeconds(1));
		assertThat(List.of(1, 2, 3, 4, 5, 40).stream().map(backoff::delay)).containsExactly(Duration.ofMillis(100),
				Duration.ofMillis(200), Duration.ofMillis(400), Duration.ofMillis(800), Duration.ofSeconds(1),
				Duration.ofSeconds(1));
	}

	// ---- Validation ----------------------------------------------------------------

	@Test
	void returningAValueIsRejected() {
		assertRejected(ReturnsValue.class, "ReturnsValue.run()", "returns String, and nothing would read it");
	}

	@Test
	void unsupportedParameterIsRejected() {
		assertRejected(TakesInt.class, "TakesInt.run(int)", "has parameters that cannot be supplied");
	}

	@Test
	void staticMethodIsRejected() {
		assertRejected(StaticJob.class, "StaticJob.run()", "is static");
	}

	@Test
	void privateMethodIsRejected() {
		assertRejected(PrivateJob.class, "PrivateJob.run()", "is private");
	}

	@Test
	void prototypeBeanIsRejectedEvenIfNeverCreated() {
		this.runner.withUserConfiguration(PrototypeConfiguration.class)
			.run((context) -> assertFailure(context, "PrototypeJob.run()", "is on a bean of scope 'prototype'"));
	}

	@Test
	void lazyBeanIsRejectedEvenIfNeverCreated() {
		this.runner.withUserConfiguration(LazyConfiguration.class)
			.run((context) -> assertFailure(context, "LazyJob.run()", "is on a lazy bean"));
	}

	@Test
	void duplicateNamesAreRejected() {
		this.runner.withBean("first", Named.class)
			.withBean("second", Named.class)
			.run((context) -> assertFailure(context, "Named.run()",
					"has the job name 'same', which io.github.gracefulshutdown.background.BackgroundJobsTests$Named.run()"
							+ " on bean 'first' already uses"));
	}

	@Test
	void aMethodThatAJdkProxyHidesIsRejectedWithAFailureAnalysis() {
		// As under spring.aop.proxy-target-class=false: the bean is a JDK proxy of its
		// interface, which does not declare the @Background method.
		this.runner.withUserConfiguration(JdkProxyConfiguration.class).run((context) -> {
			assertThat(context).hasFailed();
			FailureAnalysis analysis = new BackgroundJobFailureAnalyzer().analyze(context.getStartupFailure());
			assertThat(analysis).as("failure analysis").isNotNull();
			assertThat(analysis.getDescription()).contains("@Background method")
				.contains("HiddenByProxy.sync()")
				.contains("on bean 'greeter'")
				.contains("is not declared on any interface of the JDK proxy");
			assertThat(analysis.getAction()).contains("Declare the method on one of the bean's interfaces")
				.contains("spring.aop.proxy-target-class=true");
		});
	}

	private void assertRejected(Class<?> type, String method, String problem) {
		this.runner.withBean("job", type).run((context) -> assertFailure(context, method, problem));
	}

	private static void assertFailure(AssertableApplicationContext context, String method, String problem) {
		assertThat(context).hasFailed();
		Throwable failure = context.getStartupFailure();
		FailureAnalysis analysis = new BackgroundJobFailureAnalyzer().analyze(failure);
		assertThat(analysis).as("failure analysis").isNotNull();
		assertThat(analysis.getDescription()).contains("@Background method").contains(method).contains(problem);
		assertThat(analysis.getAction()).isNotBlank();
		if (!problem.startsWith("has the job name")) {
			assertThat(analysis.getAction())
				.contains("Declare it as 'void m()' or 'void m(ShutdownToken token)', neither static nor private, "
						+ "on an eagerly created singleton bean.");
		}
	}

	private static void ready(AssertableApplicationContext context) {
		context.publishEvent(new ApplicationReadyEvent(new SpringApplication(), new String[0],
				context.getSourceApplicationContext(), Duration.ZERO));
	}

	private static void awaitState(DefaultJobRegistry registry, JobState state) throws InterruptedException {
		long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
		// The registry has no state-change event to wait on; this test helper polls briefly.
		while (registry.jobs().stream().noneMatch((job) -> job.state() == state) && System.nanoTime() < deadline) {
			Thread.sleep(10);
		}
		assertThat(registry.jobs()).extracting(JobInfo::state).containsExactly(state);
	}

	// ---- Jobs ----------------------------------------------------------------------

	static class Poller {

		final CountDownLatch started = new CountDownLatch(1);

		volatile String threadName;

		volatile boolean virtual;

		volatile boolean stoppedCleanly;

		@Background
		void poll(ShutdownToken token) throws Exception {
			this.threadName = Thread.currentThread().getName();
			this.virtual = isVirtual(Thread.currentThread());
			this.started.countDown();
			while (token.sleep(Duration.ofMillis(20))) {
				// one unit of work per tick
			}
			this.stoppedCleanly = true;
		}

	}

	static boolean isVirtual(Thread thread) {
		try {
			return (boolean) Thread.class.getMethod("isVirtual").invoke(thread);
		}
		catch (ReflectiveOperationException ex) {
			return false; // Java 17: no virtual threads
		}
	}

	static class Flaky {

		final AtomicInteger calls = new AtomicInteger();

		final CountDownLatch recovered = new CountDownLatch(1);

		final List<Duration> gaps = new CopyOnWriteArrayList<>();

		private volatile long lastCall;

		@Background(name = "flaky")
		void run(ShutdownToken token) {
			long now = System.nanoTime();
			if (this.lastCall != 0) {
				this.gaps.add(Duration.ofNanos(now - this.lastCall));
			}
			this.lastCall = now;
			if (this.calls.incrementAndGet() <= 3) {
				throw new IllegalStateException("failure " + this.calls.get());
			}
			this.recovered.countDown();
			token.await(Duration.ofMinutes(1));
		}

	}

	static class AlwaysFailing {

		final AtomicInteger calls = new AtomicInteger();

		final CountDownLatch failed = new CountDownLatch(1);

		@Background(name = "failing")
		void run() {
			this.calls.incrementAndGet();
			this.failed.countDown();
			throw new IllegalStateException("always");
		}

	}

	static class FailsOnceAndStops {

		final AtomicInteger calls = new AtomicInteger();

		final CountDownLatch failed = new CountDownLatch(1);

		@Background(name = "once", onFailure = FailurePolicy.STOP)
		void run() {
			this.calls.incrementAndGet();
			this.failed.countDown();
			throw new IllegalStateException("once");
		}

	}

	static class Quick {

		final AtomicInteger calls = new AtomicInteger();

		@Background
		void run() {
			this.calls.incrementAndGet();
		}

	}

	static class ReturnsValue {

		@Background
		String run() {
			return "x";
		}

	}

	static class TakesInt {

		@Background
		void run(int n) {
		}

	}

	static class StaticJob {

		@Background
		static void run() {
		}

	}

	static class PrivateJob {

		@Background
		private void run() {
		}

	}

	static class PrototypeJob {

		@Background
		void run() {
		}

	}

	static class LazyJob {

		@Background
		void run() {
		}

	}

	static class Named {

		@Background(name = "same")
		void run() {
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class PrototypeConfiguration {

		@Bean
		@Scope("prototype")
		PrototypeJob prototypeJob() {
			return new PrototypeJob();
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class LazyConfiguration {

		@Bean
		@Lazy
		LazyJob lazyJob() {
			return new LazyJob();
		}

	}

	interface Greeter {

		void greet();

	}

	static class HiddenByProxy implements Greeter {

		@Override
		public void greet() {
		}

		@Background
		public void sync() {
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class JdkProxyConfiguration {

		@Bean
		Greeter greeter() {
			ProxyFactory factory = new ProxyFactory(new HiddenByProxy());
			factory.setInterfaces(Greeter.class);
			factory.addAdvice((MethodInterceptor) MethodInvocation::proceed);
			return (Greeter) factory.getProxy();
		}

	}

}
