package io.github.gracefulshutdown.demo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

import org.springframework.amqp.core.Queue;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;
import org.springframework.amqp.rabbit.core.RabbitAdmin;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;

/**
 * The messaging soak of {@code bench/messaging-soak.sh}, not a test: SIGTERMs at random
 * moments while the demo app consumes from RabbitMQ or Kafka, then one last instance
 * that consumes the rest, and a count, from the journal every instance writes, of the
 * messages lost, processed twice and cut.
 * <p>
 * Arguments: {@code rabbit|kafka}, {@code starter|boot} ({@code boot} runs the same app
 * with {@code graceful-shutdown.enabled=false}: Spring Boot alone), the number of
 * SIGTERMs, the number of messages, the work per message, and the deadline. It prints
 * one {@code RESULT} line. RabbitMQ must listen on 127.0.0.1:5672 (the script starts
 * it); the Kafka broker is the embedded KRaft broker of {@code spring-kafka-test}, run
 * in this JVM, a process of its own that outlives every instance.
 */
public final class MessagingSoak {

	private MessagingSoak() {
	}

	public static void main(String[] args) throws Exception {
		String broker = args[0];
		boolean starter = args[1].equals("starter");
		int sigterms = Integer.parseInt(args[2]);
		int messages = Integer.parseInt(args[3]);
		Duration work = Duration.parse("PT" + args[4].toUpperCase(Locale.ROOT));
		Duration deadline = Duration.parse("PT" + args[5].toUpperCase(Locale.ROOT));
		long seed = (args.length > 6) ? Long.parseLong(args[6]) : System.nanoTime();
		Random random = new Random(seed);
		String kept = System.getProperty("soak.dir");
		Path dir = (kept != null) ? Files.createDirectories(Path.of(kept)) : Files.createTempDirectory("messaging-soak-");
		// A journal per instance (each numbers its jobs' units from 1), read together.
		Path journal = dir;
		String destination = "soak-" + UUID.randomUUID().toString().substring(0, 8);

		List<String> common = new ArrayList<>(List.of("--server.port=0",
				"--graceful-shutdown.enabled=" + starter, "--spring.lifecycle.timeout-per-shutdown-phase=" + deadline,
				"--demo.light.unit=1s", "--demo.heavy.unit=1s", "--demo.scheduled.enabled=false"));
		EmbeddedKafkaKraftBroker kafka = null;
		if (broker.equals("rabbit")) {
			publishToRabbit(destination, messages);
			common.addAll(List.of("--spring.profiles.active=rabbit", "--demo.rabbit.queue=" + destination));
		}
		else {
			kafka = new EmbeddedKafkaKraftBroker(1, 2);
			kafka.afterPropertiesSet();
			publishToKafka(kafka.getBrokersAsString(), destination, messages);
			common.addAll(List.of("--spring.profiles.active=kafka", "--demo.kafka.topic=" + destination,
					"--spring.kafka.bootstrap-servers=" + kafka.getBrokersAsString()));
		}
		String workProperty = "--demo." + broker + ".work=";

		int halted = 0;
		List<Long> exitMillis = new ArrayList<>();
		for (int i = 1; i <= sigterms; i++) {
			List<String> instanceArgs = new ArrayList<>(common);
			instanceArgs.add(workProperty + work);
			instanceArgs.add("--demo.journal=" + dir.resolve("journal-" + i + ".log"));
			try (DemoProcess app = DemoProcess.start("soak-" + broker + "-" + i, instanceArgs)) {
				app.awaitLine("Started DemoApplication", Duration.ofSeconds(90));
				// Somewhere within the first messages: before, during or between them.
				Thread.sleep(500 + random.nextInt((int) work.toMillis() + 2000));
				long signalled = System.nanoTime();
				app.sigterm();
				app.awaitExit(deadline.plusSeconds(30));
				exitMillis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled));
				if (app.exitValue() != 143 && app.exitValue() != 0) {
					halted++;
				}
			}
			System.out.printf("%s %s: SIGTERM %d of %d; journal so far: %s%n", broker, args[1], i, sigterms,
					Counts.of(journal, broker, messages));
		}
		// One last instance, with quick work, consumes whatever the others left.
		List<String> lastArgs = new ArrayList<>(common);
		lastArgs.add(workProperty + "PT0.02S");
		lastArgs.add("--demo.journal=" + dir.resolve("journal-last.log"));
		try (DemoProcess app = DemoProcess.start("soak-" + broker + "-last", lastArgs)) {
			app.awaitLine("Started DemoApplication", Duration.ofSeconds(90));
			app.awaitJournal(dir.resolve("journal-last.log"), "every message ended",
					(read) -> Counts.of(journal, broker, messages).lost == 0, Duration.ofMinutes(3));
			app.sigterm();
			app.awaitExit(deadline.plusSeconds(30));
		}
		catch (AssertionError ex) {
			System.out.println("the last instance did not see every message end: " + ex.getMessage().lines().findFirst().orElse(""));
		}
		if (kafka != null) {
			kafka.destroy();
		}
		Counts counts = Counts.of(journal, broker, messages);
		exitMillis.sort(null);
		System.out.printf(
				"RESULT broker=%s mode=%s sigterms=%d messages=%d work=%s deadline=%s seed=%d lost=%d twice=%d cut=%d "
						+ "redelivered=%d exitMedianMs=%d exitMaxMs=%d nonTermExits=%d journal=%s%n",
				broker, args[1], sigterms, messages, work, deadline, seed, counts.lost, counts.twice, counts.cut,
				counts.redelivered, exitMillis.get(exitMillis.size() / 2), exitMillis.get(exitMillis.size() - 1), halted,
				journal);
	}

	private static void publishToRabbit(String queue, int messages) {
		CachingConnectionFactory connections = new CachingConnectionFactory("127.0.0.1", 5672);
		try {
			new RabbitAdmin(connections).declareQueue(new Queue(queue, true, false, false));
			RabbitTemplate template = new RabbitTemplate(connections);
			for (int i = 1; i <= messages; i++) {
				template.convertAndSend("", queue, "m-" + i);
			}
		}
		finally {
			connections.destroy();
		}
	}

	private static void publishToKafka(String bootstrap, String topic, int messages) throws Exception {
		Properties admin = new Properties();
		admin.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
		try (AdminClient client = AdminClient.create(admin)) {
			client.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get(30, TimeUnit.SECONDS);
		}
		Properties producer = new Properties();
		producer.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
		try (KafkaProducer<String, String> records = new KafkaProducer<>(producer, new StringSerializer(),
				new StringSerializer())) {
			for (int i = 1; i <= messages; i++) {
				records.send(new ProducerRecord<>(topic, "m-" + i, "m-" + i));
			}
			records.flush();
		}
	}

	/**
	 * What the journal says of the messages: one {@code START} and one {@code END} line
	 * for each is exactly once.
	 */
	record Counts(long lost, long twice, long cut, long redelivered, long ended) {

		static Counts of(Path journals, String job, int messages) {
			Path journal = journals;
			Map<String, int[]> byMessage = new HashMap<>();
			try {
				List<Path> files;
				try (var listing = Files.list(journal)) {
					files = listing.filter((file) -> file.getFileName().toString().startsWith("journal-")).toList();
				}
				for (Path file : files) {
					for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
						String[] parts = line.split(" ");
						if (parts.length >= 3 && parts[1].equals(job)) {
							int[] seen = byMessage.computeIfAbsent(parts[2], (key) -> new int[2]);
							seen[parts[0].equals("END") ? 1 : 0] += parts[0].equals("CUT") ? 0 : 1;
						}
					}
				}
			}
			catch (IOException ex) {
				throw new java.io.UncheckedIOException(ex);
			}
			long lost = 0;
			long twice = 0;
			long cut = 0;
			long redelivered = 0;
			long ended = 0;
			for (int i = 1; i <= messages; i++) {
				int[] seen = byMessage.getOrDefault("m-" + i, new int[2]);
				lost += (seen[1] == 0) ? 1 : 0;
				twice += (seen[1] > 1) ? 1 : 0;
				ended += (seen[1] > 0) ? 1 : 0;
				cut += Math.max(0, seen[0] - seen[1]);
				redelivered += (seen[0] > 1) ? 1 : 0;
			}
			return new Counts(lost, twice, cut, redelivered, ended);
		}

		@Override
		public String toString() {
			return this.ended + " ended, " + this.cut + " cut, " + this.twice + " twice";
		}

	}

}
