package io.github.gracefulshutdown.amqp;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import com.rabbitmq.client.MessageProperties;

/**
 * The real RabbitMQ broker the tests use: Debian's {@code rabbitmq-server} on
 * 127.0.0.1:5672 with guest/guest. If nothing listens there, it is started
 * ({@code rabbitmq-server -detached}, then {@code rabbitmqctl wait} on its pid file and
 * {@code rabbitmqctl await_startup}), and installed first if the binary is missing
 * ({@code apt-get update}, {@code apt-get install -y rabbitmq-server}). A broker started
 * here outlives the tests, as one started by hand does.
 * <p>
 * Every test uses queues of its own, from {@link #uniqueQueue}, and deletes them. The
 * demo's end-to-end tests use it too, from this module's test jar.
 */
public final class RabbitBroker {

	public static final String HOST = "127.0.0.1";

	public static final int PORT = 5672;

	private RabbitBroker() {
	}

	/**
	 * Makes sure the broker listens on {@link #PORT}, starting (and installing) it if not.
	 * @throws IllegalStateException if it cannot be brought up
	 */
	public static synchronized void ensureRunning() {
		if (isListening()) {
			return;
		}
		if (!Files.isExecutable(Path.of("/usr/sbin/rabbitmq-server"))) {
			run(List.of("apt-get", "update"), 300);
			run(List.of("apt-get", "install", "-y", "rabbitmq-server"), 600);
		}
		// The package's own service may have started it.
		if (!isListening()) {
			start();
		}
		if (!isListening()) {
			throw new IllegalStateException("RabbitMQ does not listen on " + HOST + ":" + PORT);
		}
	}

	private static void start() {
		Path pidFile = Path.of(System.getProperty("java.io.tmpdir"), "graceful-shutdown-rabbitmq.pid");
		try {
			Files.deleteIfExists(pidFile);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		// -detached returns before the node is up: wait for its pid file, then for the app.
		run(List.of("rabbitmq-server", "-detached"), pidFile, 60);
		run(List.of("rabbitmqctl", "wait", "--timeout", "120", pidFile.toString()), pidFile, 150);
		run(List.of("rabbitmqctl", "await_startup"), pidFile, 150);
	}

	private static boolean isListening() {
		try (Socket socket = new Socket()) {
			socket.connect(new InetSocketAddress(HOST, PORT), 1000);
			return true;
		}
		catch (IOException ex) {
			return false;
		}
	}

	private static void run(List<String> command, long timeoutSeconds) {
		run(command, null, timeoutSeconds);
	}

	private static void run(List<String> command, Path pidFile, long timeoutSeconds) {
		ProcessBuilder builder = new ProcessBuilder(command).inheritIO();
		builder.environment().put("DEBIAN_FRONTEND", "noninteractive");
		if (pidFile != null) {
			builder.environment().put("RABBITMQ_PID_FILE", pidFile.toString());
		}
		try {
			Process process = builder.start();
			if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
				process.destroyForcibly();
				throw new IllegalStateException(command + " did not finish within " + timeoutSeconds + " s");
			}
			if (process.exitValue() != 0) {
				throw new IllegalStateException(command + " failed with exit value " + process.exitValue());
			}
		}
		catch (IOException ex) {
			throw new UncheckedIOException("Could not run " + command, ex);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException("Interrupted while running " + command, ex);
		}
	}

	/**
	 * Returns a queue name no other test uses.
	 * @param prefix what the queue is for
	 * @return the name
	 */
	public static String uniqueQueue(String prefix) {
		return "gs-test-" + prefix + "-" + UUID.randomUUID();
	}

	/**
	 * Opens a plain client connection, the test's own, apart from the application's.
	 * @return the connection
	 */
	public static Connection connect() {
		ConnectionFactory factory = new ConnectionFactory();
		factory.setHost(HOST);
		factory.setPort(PORT);
		factory.setUsername("guest");
		factory.setPassword("guest");
		try {
			return factory.newConnection("graceful-shutdown-tests");
		}
		catch (IOException | TimeoutException ex) {
			throw new IllegalStateException("Cannot connect to RabbitMQ on " + HOST + ":" + PORT, ex);
		}
	}

	/**
	 * Declares a durable queue, as {@code @RabbitListener(queuesToDeclare = @Queue(...))}
	 * does, and publishes text messages to it.
	 * @param queue the queue
	 * @param bodies the messages
	 */
	public static void publish(String queue, String... bodies) throws IOException {
		try (Connection connection = connect(); Channel channel = connection.createChannel()) {
			channel.queueDeclare(queue, true, false, false, null);
			channel.confirmSelect();
			for (String body : bodies) {
				channel.basicPublish("", queue, MessageProperties.PERSISTENT_TEXT_PLAIN, body.getBytes());
			}
			channel.waitForConfirmsOrDie(10_000);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException(ex);
		}
		catch (TimeoutException ex) {
			throw new IllegalStateException(ex);
		}
	}

	/**
	 * Returns how many messages the queue holds ready for a consumer, and how many
	 * consumers it has.
	 * @param queue the queue
	 * @return the broker's answer to a passive declare
	 */
	public static AMQP.Queue.DeclareOk state(String queue) throws IOException {
		try (Connection connection = connect(); Channel channel = connection.createChannel()) {
			return channel.queueDeclarePassive(queue);
		}
		catch (TimeoutException ex) {
			throw new IllegalStateException(ex);
		}
	}

	/**
	 * Takes the next message off the queue, acknowledged at once.
	 * @param queue the queue
	 * @return the message, or {@code null} if the queue has none ready
	 */
	public static GetResponse take(String queue) throws IOException {
		try (Connection connection = connect(); Channel channel = connection.createChannel()) {
			return channel.basicGet(queue, true);
		}
		catch (TimeoutException ex) {
			throw new IllegalStateException(ex);
		}
	}

	/**
	 * Deletes a queue, whatever it holds.
	 * @param queue the queue
	 */
	public static void delete(String queue) throws IOException {
		try (Connection connection = connect(); Channel channel = connection.createChannel()) {
			channel.queueDelete(queue);
		}
		catch (TimeoutException ex) {
			throw new IllegalStateException(ex);
		}
	}

}
