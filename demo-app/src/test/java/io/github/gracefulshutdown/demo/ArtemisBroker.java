package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import jakarta.jms.JMSConsumer;
import jakarta.jms.JMSContext;
import jakarta.jms.JMSProducer;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.config.Configuration;
import org.apache.activemq.artemis.core.config.impl.ConfigurationImpl;
import org.apache.activemq.artemis.core.server.Queue;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.activemq.artemis.core.settings.impl.AddressSettings;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.slf4j.LoggerFactory;

/**
 * A real Artemis broker in the test JVM, on a TCP port of loopback, so that it outlives
 * the demo processes that get SIGTERM: what one instance gives back is counted on it and
 * consumed by the next. Not persistent, no security. The test sends and receives with a
 * plain Artemis JMS client.
 */
final class ArtemisBroker implements AutoCloseable {

	private final EmbeddedActiveMQ server;

	private final ActiveMQConnectionFactory client;

	private final int port;

	private ArtemisBroker(EmbeddedActiveMQ server, int port) {
		this.server = server;
		this.port = port;
		this.client = new ActiveMQConnectionFactory(url());
	}

	static ArtemisBroker start(Path directory) throws Exception {
		int port = E2eFixture.freePort();
		// The broker's audit log writes lines for every message, and buries the test's own.
		((Logger) LoggerFactory.getLogger("org.apache.activemq.audit")).setLevel(Level.WARN);
		Configuration configuration = new ConfigurationImpl().setPersistenceEnabled(false)
			.setSecurityEnabled(false)
			.setJMXManagementEnabled(false)
			.setBindingsDirectory(directory.resolve("bindings").toString())
			.setJournalDirectory(directory.resolve("journal").toString())
			.setPagingDirectory(directory.resolve("paging").toString())
			.setLargeMessagesDirectory(directory.resolve("large-messages").toString())
			.addAcceptorConfiguration("tcp", "tcp://127.0.0.1:" + port)
			// Without them the broker warns about every queue it creates.
			.addAddressSetting("#", new AddressSettings().setDeadLetterAddress(SimpleString.of("DLQ"))
				.setExpiryAddress(SimpleString.of("ExpiryQueue")));
		EmbeddedActiveMQ server = new EmbeddedActiveMQ().setConfiguration(configuration);
		server.start();
		return new ArtemisBroker(server, port);
	}

	/** The URL for {@code spring.artemis.broker-url}. */
	String url() {
		return "tcp://127.0.0.1:" + this.port;
	}

	/**
	 * Sends text messages, one per id, each a message the demo's listener journals by its
	 * text.
	 */
	void send(String queue, List<String> ids) {
		try (JMSContext context = this.client.createContext()) {
			JMSProducer producer = context.createProducer();
			for (String id : ids) {
				producer.send(context.createQueue(queue), id);
			}
		}
	}

	/**
	 * Receives what the queue holds, as a consumer of the test's own, until it has been
	 * empty for a second.
	 * @return the texts, in the order received
	 */
	List<String> drain(String queue) {
		List<String> texts = new ArrayList<>();
		try (JMSContext context = this.client.createContext();
				JMSConsumer consumer = context.createConsumer(context.createQueue(queue))) {
			String text;
			while ((text = consumer.receiveBody(String.class, 1000)) != null) {
				texts.add(text);
			}
		}
		return texts;
	}

	private Queue queue(String name) {
		return this.server.getActiveMQServer().locateQueue(name);
	}

	/** Messages on the queue that no one has acknowledged, delivered to a consumer or not. */
	long messageCount(String name) {
		Queue queue = queue(name);
		return (queue != null) ? queue.getMessageCount() : 0;
	}

	/** Messages that the broker has handed to a consumer, unacknowledged: prefetched or in a listener. */
	int deliveringCount(String name) {
		Queue queue = queue(name);
		return (queue != null) ? queue.getDeliveringCount() : 0;
	}

	int consumerCount(String name) {
		Queue queue = queue(name);
		return (queue != null) ? queue.getConsumerCount() : 0;
	}

	long acknowledgedCount(String name) {
		Queue queue = queue(name);
		return (queue != null) ? queue.getMessagesAcknowledged() : 0;
	}

	/**
	 * Waits until the broker shows what is expected, reading it every 50 ms: its counts
	 * change on other threads and processes, with nothing to wait on.
	 * @param description what is awaited, for the failure message
	 * @param condition the condition
	 * @param timeout the longest time to wait
	 * @param app the demo process whose exit ends the wait early, or {@code null}
	 */
	void await(String description, BooleanSupplier condition, Duration timeout, DemoProcess app)
			throws InterruptedException {
		long deadline = System.nanoTime() + timeout.toNanos();
		while (!condition.getAsBoolean()) {
			if (app != null && !app.isAlive()) {
				throw new AssertionError(app + " exited while waiting for the broker to show " + description + "\n"
						+ app.tail(60));
			}
			if (System.nanoTime() - deadline > 0) {
				throw new AssertionError("The broker did not show " + description + " within " + timeout
						+ ((app != null) ? "\n" + app.tail(60) : ""));
			}
			Thread.sleep(50);
		}
	}

	@Override
	public void close() throws Exception {
		this.client.close();
		this.server.stop();
	}

}
