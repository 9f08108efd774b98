package io.github.gracefulshutdown.kafka;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;

import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownKafkaAutoConfiguration;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.kafka.core.DefaultKafkaConsumerFactory;
import org.springframework.kafka.listener.AcknowledgingMessageListener;
import org.springframework.kafka.listener.ContainerProperties;
import org.springframework.kafka.listener.DelegatingMessageListener;
import org.springframework.kafka.listener.KafkaMessageListenerContainer;
import org.springframework.kafka.listener.MessageListenerContainer;
import org.springframework.kafka.listener.RecordInterceptor;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * When the Kafka participant is there, when it backs off, and how it prepares a
 * container before it starts. No broker: a container that never starts connects to
 * none; {@link KafkaListenerDrainTests} runs containers on a real one.
 */
@ExtendWith(OutputCaptureExtension.class)
class GracefulShutdownKafkaAutoConfigurationTests {

	private final ApplicationContextRunner runner = new ApplicationContextRunner().withConfiguration(AutoConfigurations
		.of(LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class,
				GracefulShutdownKafkaAutoConfiguration.class));

	@Test
	void withSpringKafkaButNoContainerThereIsAParticipantThatClaimsNothing() {
		this.runner.run((context) -> {
			assertThat(context).hasSingleBean(KafkaListenerDrain.class);
			KafkaListenerDrain drain = context.getBean(KafkaListenerDrain.class);
			assertThat(context.getBean(ShutdownCoordinator.class).participants()).contains(drain);
			assertThat(drain.name()).isEqualTo("message");
			// No container: no "0 messages" in the log, no "consumers stopped fetching".
			assertThat(drain.inFlightCount()).isEmpty();
			assertThat(drain.completedCount()).isEmpty();
			assertThat(drain.drainsAtShutdownStart()).isFalse();
		});
	}

	@Test
	void aContainerIsPreparedBeforeItStartsAndCountsBehindTheApplicationsOwnInterceptor() {
		this.runner.withUserConfiguration(UnstartedContainer.class).run((context) -> {
			KafkaListenerDrain drain = context.getBean(KafkaListenerDrain.class);
			assertThat(drain.drainsAtShutdownStart()).as("stops consuming as the shutdown starts").isTrue();
			assertThat(drain.inFlightCount()).hasValue(0);
			KafkaMessageListenerContainer<Object, Object> container = context.getBean(KafkaMessageListenerContainer.class);
			assertThat(container.getContainerProperties().isStopImmediate())
				.as("stops after the record in hand, not after the whole poll")
				.isTrue();
			OwnInterceptor own = context.getBean(OwnInterceptor.class);
			ConsumerRecord<Object, Object> record = new ConsumerRecord<>("orders", 1, 42, "key", "value");
			RecordInterceptor<Object, Object> interceptor = container.getRecordInterceptor();
			assertThat(interceptor.intercept(record, null)).isSameAs(record);
			assertThat(own.intercepted).as("the application's interceptor still runs").containsExactly(record);
			assertThat(drain.inFlightCount()).hasValue(1);
			assertThat(drain.inFlight()).singleElement().satisfies((inFlight) -> {
				assertThat(inFlight.description()).isEqualTo("kafka unstarted orders-1@42");
				assertThat(inFlight.thread()).isSameAs(Thread.currentThread());
			});
			interceptor.success(record, null);
			interceptor.afterRecord(record, null);
			assertThat(drain.inFlightCount()).hasValue(0);
			assertThat(drain.completedCount()).hasValue(1);
			assertThat(drain.inFlight()).isEmpty();
		});
	}

	@Test
	void anInterceptorThatSkipsARecordKeepsItUncounted() {
		this.runner.withUserConfiguration(UnstartedContainer.class).run((context) -> {
			KafkaListenerDrain drain = context.getBean(KafkaListenerDrain.class);
			context.getBean(OwnInterceptor.class).skip = true;
			RecordInterceptor<Object, Object> interceptor = context.getBean(KafkaMessageListenerContainer.class)
				.getRecordInterceptor();
			ConsumerRecord<Object, Object> record = new ConsumerRecord<>("orders", 0, 7, "key", "value");
			assertThat(interceptor.intercept(record, null)).isNull();
			interceptor.afterRecord(record, null);
			assertThat(drain.inFlightCount()).hasValue(0);
			assertThat(drain.completedCount()).hasValue(0);
		});
	}

	@Test
	void aListenerWithAsynchronousAcknowledgmentsIsWrappedSoThatItsResultsAreAwaited() {
		this.runner.withUserConfiguration(UnstartedContainer.class)
			.withPropertyValues("test.async-acks=true")
			.run((context) -> {
				KafkaMessageListenerContainer<Object, Object> container = context
					.getBean(KafkaMessageListenerContainer.class);
				Object listener = container.getContainerProperties().getMessageListener();
				assertThat(listener).isInstanceOf(AsyncResultTracking.class);
				assertThat(((DelegatingMessageListener<?>) listener).getDelegate())
					.isSameAs(context.getBean("listener"));
			});
	}

	@Test
	void aContainerOfAnotherKindIsStoppedUncountedAndNamedAtTheDeadlineIfItHasNotStopped() {
		this.runner.withBean("never", NeverStops.class).run((context) -> {
			KafkaListenerDrain drain = context.getBean(KafkaListenerDrain.class);
			assertThat(drain.inFlightCount()).as("nothing it can count").isEmpty();
			CompletionStage<?> drained = drain.drain();
			assertThat(context.getBean(NeverStops.class).stopRequested).isTrue();
			assertThat(drained.toCompletableFuture()).as("drained before the container called back").isNotDone();
			assertThat(drain.inFlight()).as("a consumer closing is no message in flight").isEmpty();
			assertThat(drain.deadlinePassed()).singleElement().satisfies((straggler) -> {
				assertThat(straggler.description())
					.isEqualTo("kafka never consumer stopping (committing offsets, closing the consumer)");
				assertThat(straggler.thread()).isNull();
			});
			context.getBean(NeverStops.class).callback.run();
			assertThat(drained.toCompletableFuture()).isDone();
			assertThat(drain.deadlinePassed()).isEmpty();
		});
	}

	@Test
	void stopConsumingAfterTheDrainDelayIsHonoured() {
		this.runner.withUserConfiguration(UnstartedContainer.class)
			.withPropertyValues("graceful-shutdown.stop-consuming=after-drain-delay")
			.run((context) -> assertThat(context.getBean(KafkaListenerDrain.class).drainsAtShutdownStart()).isFalse());
	}

	@Test
	void anExplicitImmediateStopOfFalseIsSaidToBeOverriddenOnceAtStartup(CapturedOutput output) {
		this.runner.withPropertyValues("spring.kafka.listener.immediate-stop=false")
			.run((context) -> assertThat(context).hasNotFailed());
		assertThat(output).containsOnlyOnce("spring.kafka.listener.immediate-stop=false is overridden: "
				+ "graceful-shutdown stops each listener container after the record in hand");
	}

	@Test
	void theDefaultImmediateStopSaysNothing(CapturedOutput output) {
		this.runner.run((context) -> assertThat(context).hasNotFailed());
		assertThat(output).doesNotContain("immediate-stop");
	}

	@Test
	void withoutSpringKafkaThereIsNoKafkaParticipant() {
		this.runner.withClassLoader(new FilteredClassLoader(MessageListenerContainer.class))
			.run((context) -> assertThat(context).hasNotFailed()
				.hasSingleBean(ShutdownCoordinator.class)
				.doesNotHaveBean(KafkaListenerDrain.class));
	}

	@Test
	void disabledConfiguresNoKafkaParticipant() {
		this.runner.withPropertyValues("graceful-shutdown.enabled=false")
			.run((context) -> assertThat(context).hasNotFailed().doesNotHaveBean(KafkaListenerDrain.class));
	}

	@Test
	void aUsersOwnDrainReplacesOurs() {
		this.runner.withUserConfiguration(OwnDrain.class).run((context) -> {
			assertThat(context).hasSingleBean(KafkaListenerDrain.class);
			assertThat(context.getBean(KafkaListenerDrain.class)).isSameAs(context.getBean("ownDrain"));
			assertThat(context.getBean(KafkaListenerDrain.class).drainsAtShutdownStart()).isFalse();
		});
	}

	/**
	 * A container bean that never starts, on a broker that is not there: preparing it
	 * needs no broker.
	 */
	@Configuration(proxyBeanMethods = false)
	static class UnstartedContainer {

		@Bean
		OwnInterceptor ownInterceptor() {
			return new OwnInterceptor();
		}

		@Bean
		AcknowledgingMessageListener<Object, Object> listener() {
			return (record, acknowledgment) -> {
			};
		}

		@Bean
		KafkaMessageListenerContainer<Object, Object> unstarted(OwnInterceptor ownInterceptor,
				AcknowledgingMessageListener<Object, Object> listener, Environment environment) {
			ContainerProperties properties = new ContainerProperties("orders");
			properties.setGroupId("orders");
			properties.setMessageListener(listener);
			properties.setAckMode(ContainerProperties.AckMode.MANUAL);
			properties.setAsyncAcks(environment.getProperty("test.async-acks", Boolean.class, false));
			KafkaMessageListenerContainer<Object, Object> container = new KafkaMessageListenerContainer<>(
					new DefaultKafkaConsumerFactory<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:9",
							ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
							ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class)),
					properties);
			container.setRecordInterceptor(ownInterceptor);
			container.setAutoStartup(false);
			return container;
		}

	}

	/**
	 * A listener container of a kind the participant cannot prepare (as a share
	 * consumer's is), whose stop calls back only when the test says.
	 */
	static final class NeverStops implements MessageListenerContainer {

		volatile boolean running = true;

		volatile boolean stopRequested;

		volatile Runnable callback = () -> {
		};

		@Override
		public void setupMessageListener(Object messageListener) {
		}

		@Override
		public Map<String, Map<MetricName, ? extends Metric>> metrics() {
			return Map.of();
		}

		@Override
		public String getListenerId() {
			return "never";
		}

		@Override
		public void start() {
		}

		@Override
		public void stop() {
			this.running = false;
		}

		@Override
		public void stop(Runnable callback) {
			this.stopRequested = true;
			this.running = false;
			this.callback = callback;
		}

		@Override
		public boolean isRunning() {
			return this.running;
		}

		@Override
		public boolean isAutoStartup() {
			return false;
		}

	}

	static final class OwnInterceptor implements RecordInterceptor<Object, Object> {

		final List<ConsumerRecord<Object, Object>> intercepted = new CopyOnWriteArrayList<>();

		volatile boolean skip;

		@Override
		public @Nullable ConsumerRecord<Object, Object> intercept(ConsumerRecord<Object, Object> record,
				Consumer<Object, Object> consumer) {
			this.intercepted.add(record);
			return this.skip ? null : record;
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class OwnDrain {

		@Bean
		KafkaListenerDrain ownDrain(ListableBeanFactory beanFactory) {
			return new KafkaListenerDrain(beanFactory, false);
		}

	}

}
