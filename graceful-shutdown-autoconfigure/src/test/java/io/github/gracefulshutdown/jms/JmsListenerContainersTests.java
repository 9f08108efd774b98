package io.github.gracefulshutdown.jms;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

import io.github.gracefulshutdown.ShutdownParticipant.InFlight;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownJmsAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownLifecycleAutoConfiguration;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.core.ShutdownState;
import io.github.gracefulshutdown.core.ShutdownSummary;
import io.github.gracefulshutdown.core.ShutdownWatchdog;
import jakarta.jms.ConnectionFactory;
import jakarta.jms.MessageListener;
import jakarta.jms.TextMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.artemis.autoconfigure.ArtemisAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.jms.autoconfigure.JmsAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jms.annotation.JmsListener;
import org.springframework.jms.config.JmsListenerEndpointRegistry;
import org.springframework.jms.core.JmsTemplate;
import org.springframework.jms.listener.DefaultMessageListenerContainer;
import org.springframework.messaging.handler.annotation.SendTo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The JMS participant against a real Artemis broker, which runs in the test JVM and
 * outlives each context, so that what a closing context gives back is counted on it:
 * the containers of {@code @JmsListener} methods and container beans stop receiving as
 * they drain, their messages in flight finish and are committed, the messages prefetched
 * by the client go back to the queue, and a message still in its listener at the
 * deadline is a straggler that keeps the verdict from {@code COMPLETED}.
 */
@ExtendWith(OutputCaptureExtension.class)
class JmsListenerContainersTests {

	private static final Duration WAIT = Duration.ofSeconds(10);

	// What the watchdog would have halted with; it must never halt the test JVM.
	private static final List<Integer> HALTS = new CopyOnWriteArrayList<>();

	@TempDir
	static Path brokerDirectory;

	private static ArtemisBroker broker;

	private final String queue = "orders-" + UUID.randomUUID();

	@BeforeAll
	static void startBroker() throws Exception {
		broker = ArtemisBroker.start(brokerDirectory);
	}

	@AfterAll
	static void stopBroker() throws Exception {
		broker.close();
	}

	@BeforeEach
	void noHaltYet() {
		HALTS.clear();
	}

	private ApplicationContextRunner runner() {
		return new ApplicationContextRunner()
			.withConfiguration(AutoConfigurations.of(GracefulShutdownLifecycleAutoConfiguration.class,
					LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class,
					GracefulShutdownJmsAutoConfiguration.class, ArtemisAutoConfiguration.class,
					JmsAutoConfiguration.class))
			.withBean(ShutdownWatchdog.class, () -> new ShutdownWatchdog(HALTS::add))
			.withPropertyValues("spring.artemis.mode=native", "spring.artemis.embedded.enabled=false",
					"spring.artemis.broker-url=" + broker.url(), "test.queue=" + this.queue);
	}

	@Test
	void drainStopsReceivingAwaitsTheMessagesInFlightAndGivesThePrefetchedOnesBack() {
		runner().withUserConfiguration(Orders.class).run((context) -> {
			JmsListenerContainers containers = context.getBean(JmsListenerContainers.class);
			Orders orders = context.getBean(Orders.class);
			send(context.getBean(JmsTemplate.class), 6);
			orders.awaitStarted(2);
			// Each consumer holds one message in its listener and has the rest of its share
			// prefetched: the broker has handed all six out.
			assertThat(broker.deliveringCount(this.queue)).as("messages delivered to the consumers").isEqualTo(6);
			assertThat(containers.inFlightCount()).hasValue(2);
			assertThat(containers.inFlight()).extracting(InFlight::description)
				.containsExactly("jms orders destination=" + this.queue, "jms orders destination=" + this.queue);
			assertThat(containers.inFlight()).allSatisfy(
					(inFlight) -> assertThat(inFlight.thread()).extracting(Thread::getName).asString().startsWith("orders-"));

			CompletableFuture<?> drained = containers.drain().toCompletableFuture();
			assertThat(drained).as("drained while two listeners still run")
				.failsWithin(Duration.ofMillis(500))
				.withThrowableOfType(TimeoutException.class);
			orders.release();

			assertThat(drained).succeedsWithin(WAIT);
			assertThat(orders.ended).isEqualTo(orders.started).hasSize(2);
			assertThat(containers.completedCount()).hasValue(2);
			assertThat(containers.inFlight()).isEmpty();
			// The two were committed; the four prefetched ones are back on the queue, for
			// another consumer, and this one has none left.
			await().atMost(WAIT).untilAsserted(() -> {
				assertThat(broker.messageCount(this.queue)).as("messages on the queue").isEqualTo(4);
				assertThat(broker.deliveringCount(this.queue)).as("messages delivered to a consumer").isZero();
				assertThat(broker.consumerCount(this.queue)).as("consumers").isZero();
			});
			assertThat(orders.started).as("messages begun").hasSize(2);

			// Spring's own stop, in a later phase, has nothing left to wait for.
			JmsListenerEndpointRegistry registry = context.getBean(JmsListenerEndpointRegistry.class);
			assertThat(registry.isRunning()).isFalse();
			AtomicBoolean calledBack = new AtomicBoolean();
			registry.stop(() -> calledBack.set(true));
			assertThat(calledBack).as("called back at once").isTrue();
		});
	}

	@Test
	void aMessagePastTheDeadlineIsAStragglerUntilItEndsAndTheVerdictIsTimedOut(CapturedOutput output) {
		runner().withUserConfiguration(Orders.class)
			.withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=1s",
					"graceful-shutdown.interrupt-stragglers=false")
			.run((context) -> {
				JmsListenerContainers containers = context.getBean(JmsListenerContainers.class);
				ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
				Orders orders = context.getBean(Orders.class);
				send(context.getBean(JmsTemplate.class), 2);
				orders.awaitStarted(2);

				context.close();

				String straggler = "jms orders destination=" + this.queue;
				assertThat(coordinator.whenFinished()).isCompletedWithValue(ShutdownState.TIMED_OUT);
				assertThat(coordinator.stragglers()).extracting(ShutdownSummary.Straggler::description)
					.containsExactly(straggler, straggler);
				assertThat(output).contains("Shutdown deadline of 1.00 s passed with 2 stragglers:")
					.contains("  " + straggler + ", running for ")
					.contains("Graceful shutdown TIMED_OUT in ")
					.contains("0 messages drained")
					.contains("2 stragglers (" + straggler + " x2); still running as the context closed: 2 messages ("
							+ straggler + " x2)")
					.doesNotContain("Graceful shutdown COMPLETED");
				// Still in flight after the close, until the listeners return.
				assertThat(containers.inFlight()).extracting(InFlight::description).containsExactly(straggler, straggler);
				orders.release();
				await().atMost(WAIT).until(() -> containers.inFlight().isEmpty());
				// Never committed: both are back on the queue, for another instance.
				await().atMost(WAIT).untilAsserted(() -> {
					assertThat(broker.messageCount(this.queue)).as("messages on the queue").isEqualTo(2);
					assertThat(broker.deliveringCount(this.queue)).as("messages delivered to a consumer").isZero();
				});
				assertThat(HALTS).as("watchdog halts").isEmpty();
			});
	}

	@Test
	void aContainerBeanIsCountedUnderItsBeanNameAndOneThatAcknowledgesOnReceiptIsNamedAtStartup(
			CapturedOutput output) {
		runner().withUserConfiguration(AuditContainer.class).run((context) -> {
			JmsListenerContainers containers = context.getBean(JmsListenerContainers.class);
			AuditContainer audit = context.getBean(AuditContainer.class);
			assertThat(output).contains("JMS listener container 'auditContainer' acknowledges each message as it "
					+ "receives it (AUTO_ACKNOWLEDGE, not transacted): a message still in its listener when the "
					+ "shutdown deadline cuts it is lost");
			send(context.getBean(JmsTemplate.class), 1);
			assertThat(audit.started.tryAcquire(10, TimeUnit.SECONDS)).as("the listener started").isTrue();
			assertThat(containers.inFlight()).extracting(InFlight::description)
				.containsExactly("jms auditContainer destination=" + this.queue);

			CompletableFuture<?> drained = containers.drain().toCompletableFuture();
			assertThat(drained).failsWithin(Duration.ofMillis(300)).withThrowableOfType(TimeoutException.class);
			audit.release.countDown();
			assertThat(drained).succeedsWithin(WAIT);
			assertThat(containers.completedCount()).hasValue(1);
		});
	}

	@Test
	void aContainerWhoseListenerIsSetTooLateToBeCountedIsStillAwaitedAndListedUntilItStops(CapturedOutput output) {
		runner().withUserConfiguration(LateContainer.class).run((context) -> {
			JmsListenerContainers containers = context.getBean(JmsListenerContainers.class);
			assertThat(output).contains("JMS listener container 'lateContainer' has no message listener yet: it is "
					+ "drained at shutdown, but its messages are not counted");
			CountDownLatch release = new CountDownLatch(1);
			Semaphore started = new Semaphore(0);
			context.getBean(DefaultMessageListenerContainer.class).setMessageListener((MessageListener) (message) -> {
				started.release();
				awaitUninterruptibly(release);
			});
			send(context.getBean(JmsTemplate.class), 1);
			assertThat(started.tryAcquire(10, TimeUnit.SECONDS)).as("the listener started").isTrue();
			assertThat(containers.inFlightCount()).hasValue(0);

			CompletableFuture<?> drained = containers.drain().toCompletableFuture();
			assertThat(drained).failsWithin(Duration.ofMillis(300)).withThrowableOfType(TimeoutException.class);
			assertThat(containers.inFlight()).singleElement().satisfies((inFlight) -> {
				assertThat(inFlight.description())
					.isEqualTo("jms lateContainer destination=" + this.queue + " (consumers not stopped yet)");
				assertThat(inFlight.thread()).isNull();
			});
			release.countDown();
			assertThat(drained).succeedsWithin(WAIT);
			assertThat(containers.inFlight()).isEmpty();
		});
	}

	@Test
	void aListenerThatRepliesStillGetsItsSessionAndTransactedContainersAreNotWarnedAbout(CapturedOutput output) {
		runner().withUserConfiguration(Echo.class).run((context) -> {
			JmsTemplate jms = context.getBean(JmsTemplate.class);
			jms.setReceiveTimeout(WAIT.toMillis());
			jms.convertAndSend(this.queue, "hello");
			assertThat(jms.receiveAndConvert(this.queue + ".replies")).isEqualTo("echo hello");
			assertThat(context.getBean(JmsListenerContainers.class).completedCount()).hasValue(1);
			assertThat(output).doesNotContain("acknowledges each message as it receives it");
		});
	}

	private void send(JmsTemplate jms, int count) {
		// Sent once both consumers are there, so that the broker shares the messages out.
		await().atMost(WAIT).until(() -> broker.consumerCount(this.queue) >= ((count > 1) ? 2 : 1));
		for (int i = 1; i <= count; i++) {
			jms.convertAndSend(this.queue, "m" + i);
		}
	}

	/**
	 * A {@code @JmsListener} with two consumers whose messages wait for the test to let
	 * them go, ignoring interrupts, as work that must not be cut would.
	 */
	static class Orders {

		final Set<String> started = ConcurrentHashMap.newKeySet();

		final Set<String> ended = ConcurrentHashMap.newKeySet();

		private final Semaphore begun = new Semaphore(0);

		private final CountDownLatch release = new CountDownLatch(1);

		@JmsListener(id = "orders", destination = "${test.queue}", concurrency = "2-2")
		void onOrder(String id) {
			this.started.add(id);
			this.begun.release();
			awaitUninterruptibly(this.release);
			this.ended.add(id);
		}

		void awaitStarted(int count) throws InterruptedException {
			assertThat(this.begun.tryAcquire(count, 10, TimeUnit.SECONDS)).as(count + " listeners started").isTrue();
		}

		void release() {
			this.release.countDown();
		}

	}

	/**
	 * A container declared as a bean, with a plain listener and the container's own
	 * default: auto-acknowledged, not transacted.
	 */
	@Configuration(proxyBeanMethods = false)
	static class AuditContainer {

		final Semaphore started = new Semaphore(0);

		final CountDownLatch release = new CountDownLatch(1);

		@Bean
		DefaultMessageListenerContainer auditContainer(ConnectionFactory connectionFactory,
				@Value("${test.queue}") String queue) {
			DefaultMessageListenerContainer container = new DefaultMessageListenerContainer();
			container.setConnectionFactory(connectionFactory);
			container.setDestinationName(queue);
			container.setMessageListener((MessageListener) (message) -> {
				this.started.release();
				awaitUninterruptibly(this.release);
			});
			return container;
		}

	}

	/**
	 * A container bean that is given its listener only once the context has started.
	 */
	@Configuration(proxyBeanMethods = false)
	static class LateContainer {

		@Bean
		DefaultMessageListenerContainer lateContainer(ConnectionFactory connectionFactory,
				@Value("${test.queue}") String queue) {
			DefaultMessageListenerContainer container = new DefaultMessageListenerContainer();
			container.setConnectionFactory(connectionFactory);
			container.setDestinationName(queue);
			container.setSessionTransacted(true);
			return container;
		}

	}

	/**
	 * A {@code @JmsListener} that replies, which it does through the session its
	 * container hands it.
	 */
	static class Echo {

		@JmsListener(id = "echo", destination = "${test.queue}")
		@SendTo("${test.queue}.replies")
		String echo(TextMessage message) throws Exception {
			return "echo " + message.getText();
		}

	}

	/**
	 * Waits up to 30 s for the latch, ignoring interrupts (and keeping the flag set for
	 * the caller), as work that must not be cut would.
	 */
	private static void awaitUninterruptibly(CountDownLatch latch) {
		long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
		boolean interrupted = false;
		long left;
		while ((left = deadline - System.nanoTime()) > 0) {
			try {
				if (latch.await(left, TimeUnit.NANOSECONDS)) {
					break;
				}
			}
			catch (InterruptedException ex) {
				interrupted = true;
			}
		}
		if (interrupted) {
			Thread.currentThread().interrupt();
		}
	}

}
