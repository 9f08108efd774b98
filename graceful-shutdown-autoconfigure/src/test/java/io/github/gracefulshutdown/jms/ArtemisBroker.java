package io.github.gracefulshutdown.jms;

import java.net.ServerSocket;
import java.nio.file.Path;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.config.Configuration;
import org.apache.activemq.artemis.core.config.impl.ConfigurationImpl;
import org.apache.activemq.artemis.core.server.Queue;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.activemq.artemis.core.settings.impl.AddressSettings;
import org.slf4j.LoggerFactory;

/**
 * A real Artemis broker in the test JVM, on a TCP port of loopback, that outlives the
 * application contexts under test: what a context hands back when it closes can still be
 * counted on it. Not persistent, no security.
 */
final class ArtemisBroker implements AutoCloseable {

	private final EmbeddedActiveMQ server;

	private final int port;

	private ArtemisBroker(EmbeddedActiveMQ server, int port) {
		this.server = server;
		this.port = port;
	}

	static ArtemisBroker start(Path directory) throws Exception {
		int port;
		try (ServerSocket socket = new ServerSocket(0)) {
			port = socket.getLocalPort();
		}
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
	 * The queue of that name, created by the first consumer or producer.
	 * @return the queue, or {@code null} if it does not exist yet
	 */
	Queue queue(String name) {
		return this.server.getActiveMQServer().locateQueue(name);
	}

	/** Messages on the queue, delivered to a consumer or not, that no one has acknowledged. */
	long messageCount(String name) {
		Queue queue = queue(name);
		return (queue != null) ? queue.getMessageCount() : 0;
	}

	/** Messages that the broker has handed to a consumer and that are not acknowledged. */
	int deliveringCount(String name) {
		Queue queue = queue(name);
		return (queue != null) ? queue.getDeliveringCount() : 0;
	}

	int consumerCount(String name) {
		Queue queue = queue(name);
		return (queue != null) ? queue.getConsumerCount() : 0;
	}

	@Override
	public void close() throws Exception {
		this.server.stop();
	}

}
