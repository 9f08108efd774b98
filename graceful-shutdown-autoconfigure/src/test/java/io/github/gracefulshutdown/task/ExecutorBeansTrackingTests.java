package io.github.gracefulshutdown.task;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownTaskAutoConfiguration;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobKind;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.autoconfigure.task.TaskExecutionAutoConfiguration;
import org.springframework.boot.autoconfigure.task.TaskSchedulingAutoConfiguration;
import org.springframework.boot.task.ThreadPoolTaskExecutorBuilder;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.task.SimpleAsyncTaskExecutor;
import org.springframework.core.task.TaskDecorator;
import org.springframework.scheduling.annotation.Async;
import org.springframework.scheduling.annotation.EnableAsync;
import org.springframework.scheduling.annotation.EnableScheduling;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.scheduling.annotation.SchedulingConfigurer;
import org.springframework.scheduling.concurrent.ConcurrentTaskExecutor;
import org.springframework.scheduling.concurrent.SimpleAsyncTaskScheduler;
import org.springframework.scheduling.concurrent.ThreadPoolExecutorFactoryBean;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.scheduling.config.ScheduledTaskRegistrar;
import org.springframework.scheduling.support.PeriodicTrigger;
import org.springframework.test.util.ReflectionTestUtils;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/**
 * Every executor and scheduler bean is tracked, whoever built it: real executors, built
 * with {@code new} as tutorials do, in a context with the starter's auto-configuration.
 */
@ExtendWith(OutputCaptureExtension.class)
class ExecutorBeansTrackingTests {

	private static final Duration WAIT = Duration.ofSeconds(5);

	private static final String NOT_TRACKED = "is not tracked: graceful shutdown does not await its tasks.";

	// A short deadline, so that a failed check does not leave a context draining for 30 s.
	private final ApplicationContextRunner runner = new ApplicationContextRunner()
		.withConfiguration(AutoConfigurations.of(LifecycleAutoConfiguration.class,
				GracefulShutdownAutoConfiguration.class, GracefulShutdownTaskAutoConfiguration.class,
				TaskExecutionAutoConfiguration.class, TaskSchedulingAutoConfiguration.class))
		.withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=5s");

	// ---- Executors ------------------------------------------------------------------

	@Test
	void everyTaskOfAThreadPoolTaskExecutorBuiltWithNewIsAnAsyncJobFromSubmission() {
		this.runner.withUserConfiguration(OwnThreadPoolTaskExecutor.class, AsyncWorkerConfiguration.class)
			.run((context) -> {
				ThreadPoolTaskExecutor executor = context.getBean("taskExecutor", ThreadPoolTaskExecutor.class);
				Gate gate = new Gate();
				// Its one thread runs the @Async call; the direct task waits in the queue.
				context.getBean(AsyncWorker.class).work(gate);
				executor.execute(gate::pass);
				assertThat(gate.awaitStarted(1)).isTrue();
				assertThat(jobs(context)).containsExactlyInAnyOrder(tuple("asyncWorker.work", JobKind.ASYNC),
						tuple("taskExecutor", JobKind.ASYNC));
				gate.open();
				assertThat(registry(context).whenEmpty()).succeedsWithin(WAIT);
				assertThat(gate.passed).hasValue(2);
			});
	}

	@Test
	void everyTaskOfASimpleAsyncTaskExecutorBuiltWithNewIsAnAsyncJobFromSubmission() {
		this.runner.withBean("taskExecutor", SimpleAsyncTaskExecutor.class, SimpleAsyncTaskExecutor::new)
			.run((context) -> {
				SimpleAsyncTaskExecutor executor = context.getBean(SimpleAsyncTaskExecutor.class);
				Gate gate = new Gate();
				executor.execute(gate::pass);
				Future<?> submitted = executor.submit(gate::pass);
				assertThat(gate.awaitStarted(2)).isTrue();
				assertThat(jobs(context)).containsExactly(tuple("taskExecutor", JobKind.ASYNC),
						tuple("taskExecutor", JobKind.ASYNC));
				gate.open();
				assertThat(submitted).succeedsWithin(WAIT);
				assertThat(registry(context).whenEmpty()).succeedsWithin(WAIT);
			});
	}

	@Test
	void aPlainExecutorServiceDeclaredAsExecutorServiceIsWrappedAndEveryTaskIsAnAsyncJob() {
		this.runner.withUserConfiguration(OwnExecutorService.class).run((context) -> {
			ExecutorService pool = context.getBean("pool", ExecutorService.class);
			assertThat(pool).isInstanceOf(TrackedExecutorService.class);
			Gate gate = new Gate();
			Future<String> called = pool.submit(() -> {
				gate.pass();
				return "done";
			});
			pool.execute(gate::pass);
			assertThat(gate.awaitStarted(1)).isTrue();
			assertThat(jobs(context)).containsExactly(tuple("pool", JobKind.ASYNC), tuple("pool", JobKind.ASYNC));
			gate.open();
			assertThat(called).succeedsWithin(WAIT).isEqualTo("done");
			List<Future<Integer>> all = pool.invokeAll(List.<Callable<Integer>>of(() -> 1, () -> 2));
			assertThat(all).extracting(Future::get).containsExactly(1, 2);
			assertThat(registry(context).whenEmpty()).succeedsWithin(WAIT);
			assertThat(registry(context).completedCount()).hasValue(4);
		});
	}

	@Test
	void anExecutorServiceMadeBySpringsFactoryBeanIsWrappedAndItsFactoryKeepsAcceptingTasksAfterClose() {
		this.runner.withUserConfiguration(FactoryMadeExecutorService.class).run((context) -> {
			ExecutorService pool = context.getBean("pool", ExecutorService.class);
			assertThat(pool).isInstanceOf(TrackedExecutorService.class);
			assertThat(ReflectionTestUtils.getField(context.getBean("&pool"), "acceptTasksAfterContextClose"))
				.isEqualTo(true);
			Gate gate = new Gate();
			pool.execute(gate::pass);
			assertThat(gate.awaitStarted(1)).isTrue();
			assertThat(jobs(context)).containsExactly(tuple("pool", JobKind.ASYNC));
			gate.open();
			assertThat(registry(context).whenEmpty()).succeedsWithin(WAIT);
		});
	}

	@Test
	void aWrappedExecutorServiceIsShutDownWhenDestroyedNotClosedWhichWouldWaitForEveryTask() {
		// On JDK 19+ ExecutorService.close() waits until every task has ended. Spring infers
		// shutdown() for an ExecutorService that does not declare its own close(); the
		// wrapper declares none, so a task nobody tracked cannot hold the closing thread.
		CountDownLatch untracked = new CountDownLatch(1);
		AtomicReference<ExecutorService> raw = new AtomicReference<>();
		try {
			this.runner.withBean("pool", ExecutorService.class, () -> {
				raw.set(Executors.newSingleThreadExecutor());
				return raw.get();
			}).run((context) -> {
				raw.get().execute(() -> awaitUninterruptibly(untracked, Duration.ofSeconds(10)));
				long start = System.nanoTime();
				context.close();
				assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
				assertThat(raw.get().isShutdown()).as("shut down when its bean was destroyed").isTrue();
			});
		}
		finally {
			untracked.countDown();
		}
	}

	@Test
	void anExecutorServiceTheUserTrackedWithTheRegistryIsNotWrappedAgain() {
		this.runner.withUserConfiguration(RegistryTrackedExecutorService.class).run((context) -> {
			ExecutorService mail = context.getBean("mail", ExecutorService.class);
			assertThat(mail).isNotInstanceOf(TrackedExecutorService.class);
			Gate gate = new Gate();
			mail.execute(gate::pass);
			assertThat(gate.awaitStarted(1)).isTrue();
			assertThat(jobs(context)).containsExactly(tuple("mail", JobKind.TRACKED));
			gate.open();
			assertThat(registry(context).whenEmpty()).succeedsWithin(WAIT);
		});
	}

	@Test
	void anExecutorBuiltBySpringBootsBuilderIsTrackedOnceAndNamedAfterItsBean() {
		this.runner.withUserConfiguration(BuilderMadeExecutor.class).run((context) -> {
			ThreadPoolTaskExecutor reports = context.getBean("reports", ThreadPoolTaskExecutor.class);
			Gate gate = new Gate();
			reports.execute(gate::pass);
			assertThat(gate.awaitStarted(1)).isTrue();
			assertThat(jobs(context)).containsExactly(tuple("reports", JobKind.ASYNC));
			gate.open();
			assertThat(registry(context).whenEmpty()).succeedsWithin(WAIT);
			assertThat(registry(context).completedCount()).hasValue(1);
		});
	}

	@Test
	@EnabledForJreRange(min = JRE.JAVA_21)
	void springBootsVirtualThreadExecutorIsTrackedOnce() {
		this.runner.withUserConfiguration(AsyncWorkerConfiguration.class)
			.withPropertyValues("spring.threads.virtual.enabled=true")
			.run((context) -> {
				assertThat(context.getBean("applicationTaskExecutor")).isInstanceOf(SimpleAsyncTaskExecutor.class);
				Gate gate = new Gate();
				context.getBean(AsyncWorker.class).work(gate);
				assertThat(gate.awaitStarted(1)).isTrue();
				assertThat(jobs(context)).containsExactly(tuple("asyncWorker.work", JobKind.ASYNC));
				gate.open();
				assertThat(registry(context).whenEmpty()).succeedsWithin(WAIT);
				assertThat(registry(context).completedCount()).hasValue(1);
			});
	}

	@Test
	void theUsersOwnDecoratorStillRunsOnEveryKindOfExecutor() {
		this.runner.withUserConfiguration(DecoratedExecutors.class).run((context) -> {
			Gate gate = new Gate();
			for (String name : DecoratedExecutors.NAMES) {
				context.getBean(name, Executor.class).execute(gate::pass);
			}
			assertThat(gate.awaitStarted(4)).isTrue();
			assertThat(jobs(context)).extracting((job) -> job.toList().get(0))
				.containsExactlyInAnyOrderElementsOf(DecoratedExecutors.NAMES);
			assertThat(context.getBean(DecoratedExecutors.class).decorated).containsOnlyKeys(DecoratedExecutors.NAMES)
				.allSatisfy((name, count) -> assertThat(count).as(name).hasValue(1));
			gate.open();
			assertThat(registry(context).whenEmpty()).succeedsWithin(WAIT);
		});
	}

	@Test
	void aTaskHandedOnToAnotherTrackedExecutorIsOneJob() {
		this.runner.withUserConfiguration(SchedulerWithTargetExecutor.class).run((context) -> {
			Gate gate = new Gate();
			context.getBean(SimpleAsyncTaskScheduler.class).execute(gate::pass);
			assertThat(gate.awaitStarted(1)).isTrue();
			assertThat(jobs(context)).containsExactly(tuple("taskScheduler", JobKind.ASYNC));
			gate.open();
			assertThat(registry(context).whenEmpty()).succeedsWithin(WAIT);
			assertThat(registry(context).completedCount()).hasValue(1);
		});
	}

	@Test
	void workHandedToTheUsersOwnExecutorsWhileDrainingIsAcceptedAndAwaited() {
		// Untracked, nothing would wait for these tasks: bean destruction would interrupt
		// them.
		this.runner.withUserConfiguration(OwnThreadPoolTaskExecutor.class, OwnThreadPoolTaskScheduler.class)
			.run((context) -> {
				AtomicInteger ran = new AtomicInteger();
				List<Executor> executors = List.of(context.getBean(ThreadPoolTaskExecutor.class),
						context.getBean(ThreadPoolTaskScheduler.class));
				context.getBean(ShutdownToken.class).onShutdown(() -> executors.forEach((executor) -> executor
					.execute(() -> {
						sleep(Duration.ofMillis(500));
						ran.incrementAndGet();
					})));
				context.close();
				assertThat(ran).as("tasks that ran to their end").hasValue(2);
			});
	}

	// ---- Schedulers -----------------------------------------------------------------

	@Test
	void aThreadPoolTaskSchedulerBuiltWithNewTracksTasksToRunNowAndEachScheduledRun() {
		this.runner.withUserConfiguration(OwnThreadPoolTaskScheduler.class).run((context) -> {
			ThreadPoolTaskScheduler scheduler = context.getBean(ThreadPoolTaskScheduler.class);
			assertTracksTasksToRunNowAndEachRun(context, scheduler::execute,
					(task, period) -> scheduler.scheduleWithFixedDelay(task, period),
					(task, at) -> scheduler.schedule(task, at));
		});
	}

	@Test
	void aSimpleAsyncTaskSchedulerBuiltWithNewTracksTasksToRunNowAndEachScheduledRun() {
		this.runner.withUserConfiguration(OwnSimpleAsyncTaskScheduler.class).run((context) -> {
			SimpleAsyncTaskScheduler scheduler = context.getBean(SimpleAsyncTaskScheduler.class);
			// Its fixed-delay tasks run on its own thread, past any decorator: fixed rate here.
			assertTracksTasksToRunNowAndEachRun(context, scheduler::execute,
					(task, period) -> scheduler.scheduleAtFixedRate(task, period),
					(task, at) -> scheduler.schedule(task, at));
		});
	}

	private void assertTracksTasksToRunNowAndEachRun(AssertableApplicationContext context,
			Executor now, Periodic periodic, Delayed delayed) throws Exception {
		DefaultJobRegistry registry = registry(context);
		Future<?> later = delayed.schedule(() -> {
		}, Instant.now().plus(Duration.ofHours(1)));
		assertThat(registry.activeCount()).as("a task due in an hour is no job yet").isZero();

		Gate gate = new Gate();
		now.execute(gate::pass);
		assertThat(gate.awaitStarted(1)).isTrue();
		assertThat(jobs(context)).containsExactly(tuple("taskScheduler", JobKind.ASYNC));
		gate.open();
		assertThat(registry.whenEmpty()).succeedsWithin(WAIT);

		Gate firstRun = new Gate();
		AtomicInteger runs = new AtomicInteger();
		long completedBefore = registry.completedCount().getAsLong();
		periodic.schedule(() -> {
			if (runs.incrementAndGet() == 1) {
				firstRun.pass();
			}
		}, Duration.ofMillis(20));
		assertThat(firstRun.awaitStarted(1)).isTrue();
		// A job for the run in progress, not one for the periodic task. A scheduler that
		// hands each run to a thread of its own may start the next meanwhile.
		assertThat(jobs(context)).isNotEmpty().allMatch((job) -> job.equals(tuple("taskScheduler", JobKind.SCHEDULED)));
		firstRun.open();
		awaitUntil(() -> runs.get() >= 4);
		// Closed rather than cancelled: a run cancelled as it starts would be a job that
		// runs nothing. Once shutdown has begun, no run starts.
		context.close();
		assertThat(registry.completedCount().getAsLong() - completedBefore).as("one job per run")
			.isEqualTo(runs.get());
		assertThat(later).isCancelled();
	}

	@ParameterizedTest(name = "{0}, {1}")
	@MethodSource("schedulersAndTasks")
	void aScheduledRunIsOneJobNamedAfterItsMethod(Class<?> scheduler, Class<?> ticker, String name) {
		this.runner.withUserConfiguration(scheduler, ticker).run((context) -> {
			Ticker ticks = context.getBean(Ticker.class);
			DefaultJobRegistry registry = registry(context);
			assertThat(ticks.firstRun.awaitStarted(1)).isTrue();
			// A scheduler that hands each run to a thread of its own may start the next
			// meanwhile: every job listed is a run, named after the method.
			assertThat(jobs(context)).isNotEmpty().allMatch((job) -> job.equals(tuple(name, JobKind.SCHEDULED)));
			ticks.firstRun.open();
			// The third run of a trigger task is scheduled from the end of the second.
			awaitUntil(() -> ticks.ended.get() >= 3);
			context.close();
			assertThat(registry.completedCount()).as("one job per run").hasValue(ticks.ended.get());
		});
	}

	static Stream<Arguments> schedulersAndTasks() {
		List<Class<?>> schedulers = List.of(BootsScheduler.class, OwnThreadPoolTaskScheduler.class,
				OwnSimpleAsyncTaskScheduler.class);
		return schedulers.stream()
			.flatMap((scheduler) -> Stream.of(Arguments.of(scheduler, FixedDelayTicker.class, "fixedDelayTicker.tick"),
					Arguments.of(scheduler, TriggerTicker.class, "triggerTicker.tick")));
	}

	// ---- What cannot be tracked -----------------------------------------------------

	@Test
	void anExecutorThatCannotBeTrackedIsLeftAsItIsAndNamedInOneWarning(CapturedOutput output) {
		this.runner.withUserConfiguration(UntrackableExecutors.class).run((context) -> {
			assertThat(context).hasNotFailed();
			assertThat(context.getBean("reportPool")).isExactlyInstanceOf(ThreadPoolExecutor.class);
			assertThat(context.getBean("ticks")).isNotInstanceOf(TrackedExecutorService.class);
			assertThat(context.getBean("adapted")).isExactlyInstanceOf(ConcurrentTaskExecutor.class);
		});
		assertThat(output).containsOnlyOnce("Executor bean 'reportPool' (java.util.concurrent.ThreadPoolExecutor) "
				+ NOT_TRACKED + " It is declared as java.util.concurrent.ThreadPoolExecutor")
			.contains("Declare it as ExecutorService (the return type of its @Bean method), or use Spring's "
					+ "ThreadPoolTaskExecutor.")
			.containsOnlyOnce("Executor bean 'ticks' (")
			.contains("It is declared as java.util.concurrent.ScheduledExecutorService, whose delayed and periodic "
					+ "tasks cannot be tracked per run. Use Spring's ThreadPoolTaskScheduler")
			.containsOnlyOnce("Executor bean 'adapted' (org.springframework.scheduling.concurrent."
					+ "ConcurrentTaskExecutor) " + NOT_TRACKED + " It is none of the executors the starter can track");
	}

	@Test
	void anExecutorCreatedBeforeThePostProcessorIsNamedInAWarning(CapturedOutput output) {
		this.runner.withInitializer((context) -> context.getBeanFactory()
			.registerSingleton("early", new ThreadPoolTaskExecutor()))
			.run((context) -> assertThat(context).hasNotFailed());
		assertThat(output).containsOnlyOnce("Executor bean 'early' (org.springframework.scheduling.concurrent."
				+ "ThreadPoolTaskExecutor) " + NOT_TRACKED + " It was created before the starter's post-processor");
	}

	@Test
	void anExecutorWhoseDecoratorCannotBeReadIsLeftAloneRatherThanLosingTheUsersDecorator(CapturedOutput output) {
		new ApplicationContextRunner()
			.withConfiguration(AutoConfigurations.of(LifecycleAutoConfiguration.class,
					GracefulShutdownAutoConfiguration.class))
			.withUserConfiguration(UnreadableDecorator.class)
			.run((context) -> {
				ThreadPoolTaskExecutor executor = context.getBean(ThreadPoolTaskExecutor.class);
				assertThat(ReflectionTestUtils.getField(executor, "taskDecorator"))
					.isSameAs(UnreadableDecorator.USERS);
				assertThat(ReflectionTestUtils.getField(executor, "acceptTasksAfterContextClose")).isEqualTo(false);
			});
		assertThat(output).containsOnlyOnce("Executor bean 'taskExecutor' (org.springframework.scheduling."
				+ "concurrent.ThreadPoolTaskExecutor) " + NOT_TRACKED + " Its TaskDecorator could not be read");
	}

	@Test
	void trackAsyncFalseLeavesEveryExecutorAsItIs(CapturedOutput output) {
		this.runner.withUserConfiguration(OwnThreadPoolTaskExecutor.class, UntrackableExecutors.class)
			.withBean("pool", ExecutorService.class, Executors::newSingleThreadExecutor)
			.withPropertyValues("graceful-shutdown.track-async=false")
			.run((context) -> {
				assertThat(context).doesNotHaveBean(ExecutorTrackingPostProcessor.class);
				assertThat(ReflectionTestUtils.getField(context.getBean("taskExecutor"), "taskDecorator")).isNull();
				assertThat(context.getBean("pool")).isNotInstanceOf(TrackedExecutorService.class);
				context.getBean("taskExecutor", ThreadPoolTaskExecutor.class).execute(() -> sleep(Duration.ofMillis(200)));
				assertThat(registry(context).activeCount()).isZero();
			});
		assertThat(output).doesNotContain(NOT_TRACKED);
	}

	// ---- Helpers --------------------------------------------------------------------

	private static DefaultJobRegistry registry(AssertableApplicationContext context) {
		return context.getBean(DefaultJobRegistry.class);
	}

	private static List<Tuple> jobs(AssertableApplicationContext context) {
		return registry(context).jobs().stream().map((job) -> tuple(job.name(), job.kind())).toList();
	}

	private static void awaitUntil(BooleanSupplier condition) throws InterruptedException {
		long deadline = System.nanoTime() + WAIT.toNanos();
		while (!condition.getAsBoolean()) {
			assertThat(System.nanoTime() - deadline).as("waited " + WAIT).isNegative();
			Thread.sleep(10);
		}
	}

	private static void sleep(Duration duration) {
		try {
			Thread.sleep(duration.toMillis());
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	private static void awaitUninterruptibly(CountDownLatch latch, Duration timeout) {
		long deadline = System.nanoTime() + timeout.toNanos();
		while (latch.getCount() > 0 && System.nanoTime() - deadline < 0) {
			try {
				latch.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
			}
			catch (InterruptedException ex) {
				// Ignored: this task stands for one that does not stop when told.
			}
		}
	}

	@FunctionalInterface
	interface Periodic {

		Future<?> schedule(Runnable task, Duration period);

	}

	@FunctionalInterface
	interface Delayed {

		Future<?> schedule(Runnable task, Instant at);

	}

	/**
	 * Tasks that wait at the gate until it opens.
	 */
	static final class Gate {

		private final AtomicInteger started = new AtomicInteger();

		private final CountDownLatch open = new CountDownLatch(1);

		final AtomicInteger passed = new AtomicInteger();

		void pass() {
			this.started.incrementAndGet();
			awaitUninterruptibly(this.open, Duration.ofSeconds(10));
			this.passed.incrementAndGet();
		}

		boolean awaitStarted(int count) throws InterruptedException {
			long deadline = System.nanoTime() + WAIT.toNanos();
			while (this.started.get() < count) {
				if (System.nanoTime() - deadline > 0) {
					return false;
				}
				Thread.sleep(5);
			}
			return true;
		}

		void open() {
			this.open.countDown();
		}

	}

	// ---- Configurations -------------------------------------------------------------

	@Configuration(proxyBeanMethods = false)
	static class OwnThreadPoolTaskExecutor {

		@Bean
		ThreadPoolTaskExecutor taskExecutor() {
			return new ThreadPoolTaskExecutor();
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class OwnThreadPoolTaskScheduler {

		@Bean
		ThreadPoolTaskScheduler taskScheduler() {
			return new ThreadPoolTaskScheduler();
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class OwnSimpleAsyncTaskScheduler {

		@Bean
		SimpleAsyncTaskScheduler taskScheduler() {
			return new SimpleAsyncTaskScheduler();
		}

	}

	// Spring Boot's auto-configured ThreadPoolTaskScheduler, made by its builder.
	@Configuration(proxyBeanMethods = false)
	static class BootsScheduler {

	}

	@Configuration(proxyBeanMethods = false)
	static class OwnExecutorService {

		@Bean
		ExecutorService pool() {
			return Executors.newFixedThreadPool(1);
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class FactoryMadeExecutorService {

		@Bean
		ThreadPoolExecutorFactoryBean pool() {
			return new ThreadPoolExecutorFactoryBean();
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class RegistryTrackedExecutorService {

		@Bean
		ExecutorService mail(DefaultJobRegistry registry) {
			return registry.track("mail", Executors.newSingleThreadExecutor());
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class BuilderMadeExecutor {

		@Bean
		ThreadPoolTaskExecutor reports(ThreadPoolTaskExecutorBuilder builder) {
			return builder.build();
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class SchedulerWithTargetExecutor {

		@Bean
		ThreadPoolTaskExecutor taskExecutor() {
			return new ThreadPoolTaskExecutor();
		}

		@Bean
		SimpleAsyncTaskScheduler taskScheduler(ThreadPoolTaskExecutor taskExecutor) {
			SimpleAsyncTaskScheduler scheduler = new SimpleAsyncTaskScheduler();
			scheduler.setTargetTaskExecutor(taskExecutor);
			return scheduler;
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class DecoratedExecutors {

		static final List<String> NAMES = List.of("threadPoolTaskExecutor", "simpleAsyncTaskExecutor",
				"threadPoolTaskScheduler", "simpleAsyncTaskScheduler");

		final Map<String, AtomicInteger> decorated = new ConcurrentHashMap<>();

		@Bean
		ThreadPoolTaskExecutor threadPoolTaskExecutor() {
			ThreadPoolTaskExecutor executor = new ThreadPoolTaskExecutor();
			executor.setTaskDecorator(counting("threadPoolTaskExecutor"));
			return executor;
		}

		@Bean
		SimpleAsyncTaskExecutor simpleAsyncTaskExecutor() {
			SimpleAsyncTaskExecutor executor = new SimpleAsyncTaskExecutor();
			executor.setTaskDecorator(counting("simpleAsyncTaskExecutor"));
			return executor;
		}

		@Bean
		ThreadPoolTaskScheduler threadPoolTaskScheduler() {
			ThreadPoolTaskScheduler scheduler = new ThreadPoolTaskScheduler();
			scheduler.setTaskDecorator(counting("threadPoolTaskScheduler"));
			return scheduler;
		}

		@Bean
		SimpleAsyncTaskScheduler simpleAsyncTaskScheduler() {
			SimpleAsyncTaskScheduler scheduler = new SimpleAsyncTaskScheduler();
			scheduler.setTaskDecorator(counting("simpleAsyncTaskScheduler"));
			return scheduler;
		}

		private TaskDecorator counting(String name) {
			return (runnable) -> () -> {
				this.decorated.computeIfAbsent(name, (key) -> new AtomicInteger()).incrementAndGet();
				runnable.run();
			};
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class UntrackableExecutors {

		@Bean
		ThreadPoolExecutor reportPool() {
			return (ThreadPoolExecutor) Executors.newFixedThreadPool(1);
		}

		@Bean
		ScheduledExecutorService ticks() {
			return Executors.newSingleThreadScheduledExecutor();
		}

		@Bean
		ConcurrentTaskExecutor adapted() {
			return new ConcurrentTaskExecutor(Executors.newSingleThreadExecutor());
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class UnreadableDecorator {

		static final TaskDecorator USERS = (runnable) -> runnable;

		@Bean
		static ExecutorTrackingPostProcessor unreadableDecoratorPostProcessor(
				ObjectProvider<DefaultJobRegistry> registry, ObjectProvider<ShutdownToken> token) {
			// As if Spring renamed the field.
			return new ExecutorTrackingPostProcessor(registry, token, "decoratorOfAnotherName");
		}

		@Bean
		ThreadPoolTaskExecutor taskExecutor() {
			ThreadPoolTaskExecutor executor = new ThreadPoolTaskExecutor();
			executor.setTaskDecorator(USERS);
			return executor;
		}

	}

	@Configuration(proxyBeanMethods = false)
	@EnableAsync
	static class AsyncWorkerConfiguration {

		@Bean
		AsyncWorker asyncWorker() {
			return new AsyncWorker();
		}

	}

	static class AsyncWorker {

		@Async
		public void work(Gate gate) {
			gate.pass();
		}

	}

	/**
	 * A {@code @Scheduled} method whose first run waits at a gate, and that counts the
	 * runs that ended.
	 */
	abstract static class Ticker {

		final Gate firstRun = new Gate();

		final AtomicInteger ended = new AtomicInteger();

		private final AtomicInteger runs = new AtomicInteger();

		void tick() {
			if (this.runs.incrementAndGet() == 1) {
				this.firstRun.pass();
			}
			this.ended.incrementAndGet();
		}

	}

	@Configuration(proxyBeanMethods = false)
	@EnableScheduling
	static class FixedDelayTicker extends Ticker {

		@Scheduled(fixedDelay = 20)
		@Override
		void tick() {
			super.tick();
		}

	}

	/**
	 * A trigger task, which a scheduler schedules anew after each run, as it does cron
	 * tasks.
	 */
	@Configuration(proxyBeanMethods = false)
	@EnableScheduling
	static class TriggerTicker extends Ticker implements SchedulingConfigurer {

		@Override
		public void configureTasks(ScheduledTaskRegistrar registrar) {
			registrar.addTriggerTask(new Runnable() {

				@Override
				public void run() {
					tick();
				}

				@Override
				public String toString() {
					return TriggerTicker.class.getName() + ".tick";
				}

			}, new PeriodicTrigger(Duration.ofMillis(20)));
		}

	}

}
