package io.github.gracefulshutdown.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.github.gracefulshutdown.ShutdownParticipant.InFlight;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownKafkaAutoConfiguration;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.kafka.autoconfigure.KafkaAutoConfiguration;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.core.ConsumerFactory;
import org.springframework.kafka.listener.ContainerProperties;
import org.springframework.kafka.listener.KafkaMessageListenerContainer;
import org.springframework.kafka.listener.MessageListener;
import org.springframework.kafka.listener.MessageListenerContainer;
import org.springframework.kafka.listener.RecordInterceptor;
import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The participant against a real broker, the embedded KRaft broker of spring-kafka-test,
 * one for the class; each test has a topic and a consumer group of its own. Listeners
 * wait on a gate the test opens, so what is in flight is known exactly.
 */
@ExtendWith(OutputCaptureExtension.class)
class KafkaListenerDrainTests {

	private static final Duration WAIT = Duration.ofSeconds(30);

	private static final AtomicInteger TOPICS = new AtomicInteger();

	private static EmbeddedKafkaKraftBroker broker;

	@BeforeAll
	static void startBroker() {
		broker = new EmbeddedKafkaKraftBroker(1, 1);
		// One partition for the offsets topic, not fifty: the group coordinator is up sooner.
		broker.brokerProperty("offsets.topic.num.partitions", "1");
		broker.afterPropertiesSet();
	}

	@AfterAll
	static void stopBroker() {
		broker.destroy();
	}

	@Test
	@Timeout(60)
	void theRecordInHandFinishesAndIsCommittedAndWhatWasFetchedIsLeftForTheNextConsumer() throws Exception {
		String topic = newTopic();
		// Fetched together by the first poll (max.poll.records=10); only the first is processed.
		publish(topic, "a", "b", "c");
		runner(topic).withUserConfiguration(SlowListener.class).run((context) -> {
			Gate gate = context.getBean(Gate.class);
			gate.awaitBegun(1);
			KafkaListenerDrain drain = context.getBean(KafkaListenerDrain.class);
			assertThat(drain.inFlightCount()).hasValue(1);

			CompletionStage<?> drained = drain.drain();
			assertThat(drained.toCompletableFuture()).as("drained while a record is in flight").isNotDone();
			assertThat(drain.inFlight()).singleElement()
				.satisfies((inFlight) -> assertThat(inFlight.description()).isEqualTo("kafka slow " + topic + "-0@0"));
			gate.open();
			drained.toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);

			assertThat(gate.ended).containsExactly("a");
			assertThat(gate.begun).as("records fetched and not processed").containsExactly("a");
			assertThat(context.getBean(OwnInterceptor.class).intercepted)
				.as("the application's own interceptor, which Spring Boot set on the factory")
				.containsExactly("a");
			assertThat(drain.inFlightCount()).hasValue(0);
			assertThat(drain.completedCount()).hasValue(1);
			assertThat(drain.inFlight()).isEmpty();
			assertThat(listenerContainer(context, "slow").isRunning()).isFalse();
			assertThat(committed(topic)).as("committed offset: the one record processed").isEqualTo(1);
			// Stopped, so fetching nothing more: what comes now is for the next consumer too.
			publish(topic, "d");
			assertThat(consumeAsTheNextInstance(topic, 3)).containsExactly("b", "c", "d");
		});
	}

	@Test
	@Timeout(60)
	void aRecordPastTheDeadlineIsNamedWithItsThreadAndStaysInFlightUntilItEnds() throws Exception {
		String topic = newTopic();
		publish(topic, "late");
		runner(topic).withUserConfiguration(SlowListener.class).run((context) -> {
			Gate gate = context.getBean(Gate.class);
			gate.awaitBegun(1);
			KafkaListenerDrain drain = context.getBean(KafkaListenerDrain.class);
			CompletionStage<?> drained = drain.drain();

			List<InFlight> stragglers = drain.deadlinePassed();
			assertThat(stragglers).singleElement().satisfies((straggler) -> {
				assertThat(straggler.description()).isEqualTo("kafka slow " + topic + "-0@0");
				assertThat(straggler.thread()).isSameAs(gate.thread);
			});
			// Until it has really ended, the verdict cannot be COMPLETED.
			assertThat(drain.inFlight()).extracting(InFlight::description)
				.containsExactly("kafka slow " + topic + "-0@0");
			assertThat(drained.toCompletableFuture()).isNotDone();

			gate.open();
			drained.toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);
			assertThat(drain.inFlight()).isEmpty();
			assertThat(committed(topic)).isEqualTo(1);
		});
	}

	@Test
	@Timeout(60)
	void anAsynchronousResultIsAwaitedAndCommittedBeforeTheContainerStops() throws Exception {
		String topic = newTopic();
		publish(topic, "async-1");
		runner(topic).withUserConfiguration(AsyncListener.class).run((context) -> {
			Gate gate = context.getBean(Gate.class);
			gate.awaitBegun(1);
			KafkaListenerDrain drain = context.getBean(KafkaListenerDrain.class);
			// The listener has returned its future: no thread works on the record now.
			await().atMost(WAIT)
				.untilAsserted(() -> assertThat(drain.inFlight()).singleElement()
					.satisfies((inFlight) -> assertThat(inFlight.thread()).isNull()));
			assertThat(drain.inFlightCount()).hasValue(1);

			CompletionStage<?> drained = drain.drain();
			assertThat(drained.toCompletableFuture()).as("drained while the result is pending").isNotDone();
			assertThat(listenerContainer(context, "async").isRunning())
				.as("stopped before the result's acknowledgment, which would then be lost")
				.isTrue();
			assertThat(drain.inFlight()).extracting(InFlight::description)
				.containsExactly("kafka async " + topic + "-0@0");

			gate.completeResults();
			drained.toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);
			assertThat(listenerContainer(context, "async").isRunning()).isFalse();
			assertThat(drain.inFlight()).isEmpty();
			assertThat(drain.completedCount()).hasValue(1);
			assertThat(committed(topic)).as("the result's record, committed").isEqualTo(1);
		});
	}

	@Test
	@Timeout(60)
	void aContainerBeanIsCountedAndDrainedToo() throws Exception {
		String topic = newTopic();
		publish(topic, "standalone-1");
		runner(topic).withUserConfiguration(StandaloneContainer.class).run((context) -> {
			Gate gate = context.getBean(Gate.class);
			gate.awaitBegun(1);
			KafkaListenerDrain drain = context.getBean(KafkaListenerDrain.class);
			assertThat(drain.inFlight()).extracting(InFlight::description)
				.containsExactly("kafka standalone " + topic + "-0@0");
			CompletionStage<?> drained = drain.drain();
			assertThat(drained.toCompletableFuture()).isNotDone();
			gate.open();
			drained.toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);
			assertThat(context.getBean("standalone", MessageListenerContainer.class).isRunning()).isFalse();
			assertThat(committed(topic)).isEqualTo(1);
		});
	}

	@Test
	@Timeout(60)
	void closingTheContextFinishesTheRecordInFlightWithinTheSequenceAndCountsIt(CapturedOutput output)
			throws Exception {
		String topic = newTopic();
		publish(topic, "closing");
		runner(topic).withUserConfiguration(SlowListener.class).run((context) -> {
			Gate gate = context.getBean(Gate.class);
			gate.awaitBegun(1);
			Thread opener = new Thread(() -> {
				try {
					Thread.sleep(1000);
				}
				catch (InterruptedException ex) {
					Thread.currentThread().interrupt();
				}
				gate.open();
			}, "gate-opener");
			opener.start();
			long start = System.nanoTime();
			context.close();
			Duration took = Duration.ofNanos(System.nanoTime() - start);
			opener.join();
			assertThat(gate.ended).containsExactly("closing");
			// The record's second, and no wait of Spring's own for the containers' phase.
			assertThat(took).isLessThan(Duration.ofSeconds(6));
			assertThat(committed(topic)).isEqualTo(1);
		});
		assertThat(output).contains("Shutdown requested: message consumers stopped fetching (1 participant), "
				+ "finishing 1 message");
		assertThat(output).containsPattern("Graceful shutdown COMPLETED in [0-9.]+ s: 1 message drained, "
				+ "0 jobs stopped, 0 stragglers");
	}

	// ---- Helpers --------------------------------------------------------------------

	private static ApplicationContextRunner runner(String topic) {
		return new ApplicationContextRunner()
			.withConfiguration(AutoConfigurations.of(LifecycleAutoConfiguration.class,
					GracefulShutdownAutoConfiguration.class, GracefulShutdownKafkaAutoConfiguration.class,
					KafkaAutoConfiguration.class))
			.withBean(Gate.class)
			.withBean(OwnInterceptor.class)
			.withPropertyValues("spring.kafka.bootstrap-servers=" + broker.getBrokersAsString(),
					"spring.kafka.consumer.auto-offset-reset=earliest", "spring.kafka.consumer.max-poll-records=10",
					"test.topic=" + topic, "spring.lifecycle.timeout-per-shutdown-phase=10s");
	}

	private static String newTopic() {
		String topic = "drain-" + TOPICS.incrementAndGet();
		broker.addTopics(new NewTopic(topic, 1, (short) 1));
		return topic;
	}

	private static void publish(String topic, String... keys) throws Exception {
		try (KafkaProducer<String, String> producer = new KafkaProducer<>(
				Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.getBrokersAsString()), new StringSerializer(),
				new StringSerializer())) {
			for (String key : keys) {
				producer.send(new ProducerRecord<>(topic, key, key)).get(WAIT.toSeconds(), TimeUnit.SECONDS);
			}
		}
	}

	private static long committed(String topic) throws Exception {
		try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.getBrokersAsString()))) {
			Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group(topic))
				.partitionsToOffsetAndMetadata()
				.get(WAIT.toSeconds(), TimeUnit.SECONDS);
			OffsetAndMetadata offset = offsets.get(new TopicPartition(topic, 0));
			return (offset != null) ? offset.offset() : 0;
		}
	}

	/**
	 * Consumes in the test's group, as the next instance would after the rebalance.
	 */
	private static List<String> consumeAsTheNextInstance(String topic, int count) {
		List<String> keys = new ArrayList<>();
		try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
				Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.getBrokersAsString(),
						ConsumerConfig.GROUP_ID_CONFIG, group(topic), ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
						"earliest", ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false"),
				new StringDeserializer(), new StringDeserializer())) {
			consumer.subscribe(List.of(topic));
			long deadline = System.nanoTime() + WAIT.toNanos();
			while (keys.size() < count && System.nanoTime() < deadline) {
				consumer.poll(Duration.ofMillis(500)).forEach((record) -> keys.add(record.key()));
			}
		}
		return keys;
	}

	private static String group(String topic) {
		return topic + "-group";
	}

	private static MessageListenerContainer listenerContainer(AssertableApplicationContext context, String id) {
		return context.getBean(org.springframework.kafka.config.KafkaListenerEndpointRegistry.class)
			.getListenerContainer(id);
	}

	/**
	 * Where the listeners wait until the test lets them finish.
	 */
	static final class Gate {

		final List<String> begun = new CopyOnWriteArrayList<>();

		final List<String> ended = new CopyOnWriteArrayList<>();

		private final CountDownLatch open = new CountDownLatch(1);

		private final List<CompletableFuture<Void>> results = new CopyOnWriteArrayList<>();

		volatile Thread thread;

		void pass(String key) throws InterruptedException {
			this.thread = Thread.currentThread();
			this.begun.add(key);
			this.open.await();
			this.ended.add(key);
		}

		CompletableFuture<Void> later(String key) {
			this.begun.add(key);
			CompletableFuture<Void> result = new CompletableFuture<>();
			this.results.add(result);
			return result;
		}

		void open() {
			this.open.countDown();
		}

		void completeResults() {
			// On a thread of their own, as an asynchronous client would complete them.
			Thread completer = new Thread(() -> this.results.forEach((result) -> result.complete(null)),
					"result-completer");
			completer.start();
		}

		void awaitBegun(int count) {
			await().atMost(WAIT).until(() -> this.begun.size() >= count);
		}

	}

	static final class OwnInterceptor implements RecordInterceptor<Object, Object> {

		final List<Object> intercepted = new CopyOnWriteArrayList<>();

		@Override
		public ConsumerRecord<Object, Object> intercept(ConsumerRecord<Object, Object> record,
				org.apache.kafka.clients.consumer.Consumer<Object, Object> consumer) {
			this.intercepted.add(record.key());
			return record;
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class SlowListener {

		@Bean
		Slow slow(Gate gate) {
			return new Slow(gate);
		}

	}

	static final class Slow {

		private final Gate gate;

		Slow(Gate gate) {
			this.gate = gate;
		}

		@KafkaListener(id = "slow", topics = "${test.topic}", groupId = "${test.topic}-group")
		void listen(ConsumerRecord<String, String> record) throws InterruptedException {
			this.gate.pass(record.key());
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class AsyncListener {

		@Bean
		Async async(Gate gate) {
			return new Async(gate);
		}

	}

	static final class Async {

		private final Gate gate;

		Async(Gate gate) {
			this.gate = gate;
		}

		@KafkaListener(id = "async", topics = "${test.topic}", groupId = "${test.topic}-group")
		CompletableFuture<Void> listen(ConsumerRecord<String, String> record) {
			return this.gate.later(record.key());
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class StandaloneContainer {

		@Bean
		KafkaMessageListenerContainer<Object, Object> standalone(ConsumerFactory<Object, Object> consumerFactory,
				Gate gate, org.springframework.core.env.Environment environment) {
			String topic = environment.getRequiredProperty("test.topic");
			ContainerProperties properties = new ContainerProperties(topic);
			properties.setGroupId(group(topic));
			properties.setMessageListener((MessageListener<Object, Object>) (record) -> {
				try {
					gate.pass((String) record.key());
				}
				catch (InterruptedException ex) {
					Thread.currentThread().interrupt();
				}
			});
			return new KafkaMessageListenerContainer<>(consumerFactory, properties);
		}

	}

}
