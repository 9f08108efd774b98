package io.github.gracefulshutdown.amqp;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongPredicate;

import io.github.gracefulshutdown.ShutdownParticipant.InFlight;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownLifecycleAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownMetricsAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownRabbitAutoConfiguration;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.core.ShutdownState;
import io.github.gracefulshutdown.core.ShutdownWatchdog;
import io.micrometer.core.instrument.MeterRegistry;
import org.aopalliance.intercept.MethodInterceptor;
import org.aopalliance.intercept.MethodInvocation;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.amqp.core.Queue;
import org.springframework.amqp.rabbit.annotation.RabbitListener;
import org.springframework.amqp.rabbit.config.ContainerCustomizer;
import org.springframework.amqp.rabbit.config.SimpleRabbitListenerContainerFactory;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.amqp.rabbit.listener.DirectMessageListenerContainer;
import org.springframework.amqp.rabbit.listener.SimpleMessageListenerContainer;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.amqp.autoconfigure.RabbitAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * RabbitMQ listener containers drained by the one shutdown, against the real broker:
 * deliveries in flight are awaited and acknowledged, consuming stops and fetched messages
 * go back to the queue, and a delivery past the deadline is named and keeps the verdict
 * from saying COMPLETED.
 */
@ExtendWith(OutputCaptureExtension.class)
class RabbitListenerDrainTests {

	// What the watchdog would have halted with; it must never halt the test JVM.
	private static final List<Integer> HALTS = new CopyOnWriteArrayList<>();

	private final ApplicationContextRunner runner = new ApplicationContextRunner()
		.withConfiguration(AutoConfigurations.of(GracefulShutdownLifecycleAutoConfiguration.class,
				LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class,
				RabbitAutoConfiguration.class, GracefulShutdownRabbitAutoConfiguration.class,
				MetricsAutoConfiguration.class, SimpleMetricsExportAutoConfiguration.class,
				CompositeMeterRegistryAutoConfiguration.class, GracefulShutdownMetricsAutoConfiguration.class))
		.withBean(ShutdownWatchdog.class, () -> new ShutdownWatchdog(HALTS::add))
		.withPropertyValues("spring.rabbitmq.host=" + RabbitBroker.HOST, "spring.rabbitmq.port=" + RabbitBroker.PORT,
				"spring.lifecycle.timeout-per-shutdown-phase=10s");

	@BeforeAll
	static void broker() {
		RabbitBroker.ensureRunning();
	}

	@BeforeEach
	void noHaltYet() {
		HALTS.clear();
	}

	// ---- Auto-configuration -------------------------------------------------------

	@Test
	void backsOffWithoutSpringAmqp() {
		this.runner.withClassLoader(new FilteredClassLoader("org.springframework.amqp"))
			.run((context) -> assertThat(context).hasNotFailed()
				.hasSingleBean(ShutdownCoordinator.class)
				.doesNotHaveBean(RabbitListenerDrain.class)
				.doesNotHaveBean(DeliveryCountingPostProcessor.class));
	}

	@Test
	void backsOffWhenGracefulShutdownIsDisabled() {
		this.runner.withPropertyValues("graceful-shutdown.enabled=false")
			.run((context) -> assertThat(context).hasNotFailed()
				.doesNotHaveBean(RabbitListenerDrain.class)
				.doesNotHaveBean(DeliveryCountingPostProcessor.class));
	}

	@Test
	void aDrainOfTheUsersOwnIsTheParticipant() {
		this.runner.withUserConfiguration(OwnDrain.class).run((context) -> {
			assertThat(context).hasSingleBean(RabbitListenerDrain.class);
			assertThat(context.getBean(ShutdownCoordinator.class).participants())
				.contains(context.getBean("ownDrain", RabbitListenerDrain.class));
		});
	}

	@Test
	void theCounterComesFirstInTheFactorysChainAndSpringBootsRetryIsKept() {
		this.runner.withPropertyValues("spring.rabbitmq.listener.simple.retry.enabled=true").run((context) -> {
			SimpleRabbitListenerContainerFactory factory = context.getBean(SimpleRabbitListenerContainerFactory.class);
			assertThat(factory.getAdviceChain()).hasSize(2);
			assertThat(factory.getAdviceChain()[0]).isInstanceOf(RabbitListenerDrain.DeliveryCounter.class);
			assertThat(factory.getAdviceChain()[1]).isInstanceOf(MethodInterceptor.class)
				.isNotInstanceOf(RabbitListenerDrain.DeliveryCounter.class);
		});
	}

	@Test
	void withoutListenerContainersNothingIsSaidAboutMessages(CapturedOutput output) {
		this.runner.run((context) -> {
			RabbitListenerDrain drain = context.getBean(RabbitListenerDrain.class);
			assertThat(drain.inFlightCount()).isEmpty();
			assertThat(drain.completedCount()).isEmpty();
			assertThat(drain.drainsAtShutdownStart()).isFalse();
			// Registered for the participant, since containers may come after the meters
			// are bound; it reads 0 while there is none.
			assertThat(context.getBean(MeterRegistry.class).get("graceful.shutdown.messages.active").gauge().value())
				.isZero();
			context.close();
		});
		assertThat(output).contains("Graceful shutdown COMPLETED")
			.doesNotContain("message consumers")
			.doesNotContain("messages drained");
	}

	// ---- Against the broker --------------------------------------------------------

	@Test
	void deliveriesInFlightFinishAndAreAcknowledgedBeforeTheContextCloses(CapturedOutput output) throws Exception {
		String queue = RabbitBroker.uniqueQueue("in-flight");
		Deliveries deliveries = new Deliveries(Duration.ofMillis(1500));
		try {
			this.runner
				.withPropertyValues("test.queue=" + queue, "test.concurrency=2",
						"spring.rabbitmq.listener.simple.prefetch=1")
				.withBean(Deliveries.class, () -> deliveries)
				.withBean(OrdersListener.class)
				// Spring AMQP's own wait would cut the deliveries after 100 ms.
				.withBean(ContainerCustomizer.class,
						() -> (ContainerCustomizer<SimpleMessageListenerContainer>) (container) -> container
							.setShutdownTimeout(100))
				.run((context) -> {
					RabbitBroker.publish(queue, "m1", "m2");
					deliveries.awaitBegun(2);
					RabbitListenerDrain drain = context.getBean(RabbitListenerDrain.class);
					assertThat(drain.drainsAtShutdownStart()).isTrue();
					assertThat(drain.inFlightCount()).hasValue(2);
					assertThat(drain.inFlight()).extracting(InFlight::description)
						.containsExactly("rabbit orders queue=" + queue, "rabbit orders queue=" + queue);
					assertThat(drain.inFlight()).allMatch((inFlight) -> inFlight.thread() != null);
					assertThat(context.getBean(MeterRegistry.class).get("graceful.shutdown.messages.active").gauge()
						.value()).isEqualTo(2);
					ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
					context.close();
					assertThat(deliveries.ended).containsExactlyInAnyOrder("m1", "m2");
					assertThat(deliveries.cut).isEmpty();
					assertThat(drain.inFlight()).isEmpty();
					assertThat(coordinator.state()).isEqualTo(ShutdownState.COMPLETED);
				});
			// Acknowledged before the connection closed: nothing went back to the queue.
			assertThat(RabbitBroker.state(queue).getMessageCount()).isZero();
			assertThat(deliveries.begun).hasSize(2);
			assertThat(output).contains("Shutdown requested: message consumers stopped fetching (1 participant), "
					+ "finishing 2 messages")
				.contains("Graceful shutdown COMPLETED in")
				.contains(": 2 messages drained, 0 jobs stopped, 0 stragglers")
				.doesNotContain("Workers not finished")
				.doesNotContain("Closing channel for unresponsive consumer");
			assertThat(HALTS).isEmpty();
		}
		finally {
			RabbitBroker.delete(queue);
		}
	}

	@Test
	void consumingStopsAtOnceAndMessagesFetchedButNotDeliveredGoBackToTheQueue(CapturedOutput output)
			throws Exception {
		String queue = RabbitBroker.uniqueQueue("prefetched");
		Deliveries deliveries = new Deliveries(Duration.ofMillis(1500));
		try {
			this.runner
				.withPropertyValues("test.queue=" + queue, "test.concurrency=1",
						"spring.rabbitmq.listener.simple.prefetch=10")
				.withBean(Deliveries.class, () -> deliveries)
				.withBean(OrdersListener.class)
				.run((context) -> {
					RabbitBroker.publish(queue, "m1", "m2", "m3", "m4", "m5");
					deliveries.awaitBegun(1);
					// All five are with the consumer: one in the listener, four fetched.
					awaitReady(queue, (ready) -> ready == 0);
					context.close();
				});
			assertThat(deliveries.begun).containsExactly("m1");
			assertThat(deliveries.ended).containsExactly("m1");
			assertThat(awaitReady(queue, (ready) -> ready == 4)).isEqualTo(4);
			assertThat(RabbitBroker.state(queue).getConsumerCount()).isZero();
			assertThat(output).contains("Graceful shutdown COMPLETED in").contains(": 1 message drained, ");
		}
		finally {
			RabbitBroker.delete(queue);
		}
	}

	@Test
	void aDeliveryPastTheDeadlineIsNamedStaysInFlightUntilItEndsAndTheBrokerGetsItBack(CapturedOutput output)
			throws Exception {
		String queue = RabbitBroker.uniqueQueue("straggler");
		Deliveries deliveries = Deliveries.deaf();
		try {
			this.runner
				.withPropertyValues("test.queue=" + queue, "spring.lifecycle.timeout-per-shutdown-phase=1s",
						"graceful-shutdown.interrupt-stragglers=false", "spring.rabbitmq.listener.simple.prefetch=1")
				.withBean(Deliveries.class, () -> deliveries)
				.withBean(OrdersListener.class)
				.run((context) -> {
					RabbitBroker.publish(queue, "m1");
					deliveries.awaitBegun(1);
					RabbitListenerDrain drain = context.getBean(RabbitListenerDrain.class);
					ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
					long start = System.nanoTime();
					context.close();
					assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
					assertThat(coordinator.state()).isEqualTo(ShutdownState.TIMED_OUT);
					// The listener has not returned: it is still in flight, after the close.
					assertThat(drain.inFlight()).extracting(InFlight::description)
						.containsExactly("rabbit orders queue=" + queue);
					// The connection is closed: the broker has the message back for another consumer.
					assertThat(awaitReady(queue, (ready) -> ready == 1)).isEqualTo(1);
					deliveries.release.countDown();
				});
			assertThat(output).contains("Shutdown deadline of 1.00 s passed with 1 straggler:")
				.contains("rabbit orders queue=" + queue + ", running for ")
				.contains(", on thread ")
				.contains("Graceful shutdown TIMED_OUT in")
				.contains("1 straggler (rabbit orders queue=" + queue + ")")
				.contains("still running as the context closed: 1 message (rabbit orders queue=" + queue + ")");
			assertThat(HALTS).isEmpty();
		}
		finally {
			deliveries.release.countDown();
			RabbitBroker.delete(queue);
		}
	}

	@Test
	void aDirectContainerBeanIsCountedUnderItsBeanNameAndKeepsItsOwnAdvice(CapturedOutput output) throws Exception {
		String queue = RabbitBroker.uniqueQueue("direct");
		Deliveries deliveries = new Deliveries(Duration.ofMillis(1000));
		try {
			this.runner.withPropertyValues("test.queue=" + queue)
				.withBean(Deliveries.class, () -> deliveries)
				.withUserConfiguration(AuditContainer.class)
				.run((context) -> {
					RabbitBroker.publish(queue, "a1");
					deliveries.awaitBegun(1);
					RabbitListenerDrain drain = context.getBean(RabbitListenerDrain.class);
					AuditContainer audit = context.getBean(AuditContainer.class);
					assertThat(drain.inFlight()).extracting(InFlight::description)
						.containsExactly("rabbit auditContainer queue=" + queue);
					context.close();
					assertThat(deliveries.ended).containsExactly("a1");
					assertThat(audit.adviceCalls).hasValue(1);
				});
			assertThat(RabbitBroker.state(queue).getMessageCount()).isZero();
			assertThat(output).contains("Graceful shutdown COMPLETED in").contains(": 1 message drained, ");
		}
		finally {
			RabbitBroker.delete(queue);
		}
	}

	@Test
	void aContainerWhoseChainWasReplacedIsNamedAtStartupAndStillAwaited(CapturedOutput output) throws Exception {
		String queue = RabbitBroker.uniqueQueue("uncounted");
		Deliveries deliveries = new Deliveries(Duration.ofMillis(1000));
		try {
			this.runner.withPropertyValues("test.queue=" + queue)
				.withBean(Deliveries.class, () -> deliveries)
				.withBean(OrdersListener.class)
				// Replaces the chain the factory set, counter included.
				.withBean(ContainerCustomizer.class,
						() -> (ContainerCustomizer<SimpleMessageListenerContainer>) (container) -> container
							.setAdviceChain((MethodInterceptor) MethodInvocation::proceed))
				.run((context) -> {
					assertThat(output).contains("RabbitMQ listener containers [orders] have an advice chain without "
							+ "graceful shutdown's delivery counter");
					RabbitBroker.publish(queue, "u1");
					deliveries.awaitBegun(1);
					RabbitListenerDrain drain = context.getBean(RabbitListenerDrain.class);
					assertThat(drain.inFlightCount()).hasValue(0);
					ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
					context.close();
					// Not counted, but its container's stop was awaited: it finished and was acknowledged.
					assertThat(deliveries.ended).containsExactly("u1");
					assertThat(coordinator.state()).isEqualTo(ShutdownState.COMPLETED);
				});
			assertThat(RabbitBroker.state(queue).getMessageCount()).isZero();
		}
		finally {
			RabbitBroker.delete(queue);
		}
	}

	private static int awaitReady(String queue, LongPredicate condition) throws IOException, InterruptedException {
		long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
		while (true) {
			int ready = RabbitBroker.state(queue).getMessageCount();
			if (condition.test(ready) || System.nanoTime() - deadline > 0) {
				return ready;
			}
			// The broker is another process: its counts are read again, not awaited.
			Thread.sleep(50);
		}
	}

	/**
	 * What the listeners were given, each for a fixed time; or, deaf, until released,
	 * whatever interrupts it.
	 */
	static final class Deliveries {

		final List<String> begun = new CopyOnWriteArrayList<>();

		final List<String> ended = new CopyOnWriteArrayList<>();

		final List<String> cut = new CopyOnWriteArrayList<>();

		final CountDownLatch release = new CountDownLatch(1);

		private final Duration work;

		private final boolean deaf;

		Deliveries(Duration work) {
			this(work, false);
		}

		private Deliveries(Duration work, boolean deaf) {
			this.work = work;
			this.deaf = deaf;
		}

		static Deliveries deaf() {
			return new Deliveries(Duration.ZERO, true);
		}

		void handle(String body) {
			synchronized (this) {
				this.begun.add(body);
				notifyAll();
			}
			if (this.deaf) {
				awaitReleaseUninterruptibly();
			}
			else {
				try {
					Thread.sleep(this.work.toMillis());
				}
				catch (InterruptedException ex) {
					this.cut.add(body);
					Thread.currentThread().interrupt();
					throw new IllegalStateException("Interrupted while handling " + body, ex);
				}
			}
			this.ended.add(body);
		}

		private void awaitReleaseUninterruptibly() {
			boolean interrupted = false;
			try {
				while (true) {
					try {
						this.release.await();
						return;
					}
					catch (InterruptedException ex) {
						interrupted = true;
					}
				}
			}
			finally {
				if (interrupted) {
					Thread.currentThread().interrupt();
				}
			}
		}

		synchronized void awaitBegun(int count) throws InterruptedException {
			long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
			while (this.begun.size() < count) {
				long left = deadline - System.nanoTime();
				assertThat(left).as("time left for " + count + " deliveries to begin; begun: " + this.begun)
					.isPositive();
				TimeUnit.NANOSECONDS.timedWait(this, left);
			}
		}

	}

	static class OrdersListener {

		private final Deliveries deliveries;

		OrdersListener(Deliveries deliveries) {
			this.deliveries = deliveries;
		}

		@RabbitListener(id = "orders", queuesToDeclare = @org.springframework.amqp.rabbit.annotation.Queue("${test.queue}"),
				concurrency = "${test.concurrency:1}")
		void onOrder(String body) {
			this.deliveries.handle(body);
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class AuditContainer {

		final AtomicInteger adviceCalls = new AtomicInteger();

		@Bean
		Queue auditQueue(@Value("${test.queue}") String queue) {
			return new Queue(queue);
		}

		@Bean
		DirectMessageListenerContainer auditContainer(ConnectionFactory connectionFactory, Deliveries deliveries,
				@Value("${test.queue}") String queue) {
			DirectMessageListenerContainer container = new DirectMessageListenerContainer(connectionFactory);
			container.setQueueNames(queue);
			container.setPrefetchCount(1);
			container.setMessageListener((message) -> deliveries.handle(new String(message.getBody())));
			container.setAdviceChain((MethodInterceptor) (invocation) -> {
				this.adviceCalls.incrementAndGet();
				return invocation.proceed();
			});
			return container;
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class OwnDrain {

		@Bean
		RabbitListenerDrain ownDrain(ApplicationContext context) {
			return new RabbitListenerDrain(context, Duration.ofSeconds(30), true);
		}

	}

}
