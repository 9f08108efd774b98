package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.demo.JournalFile.Span;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;

/**
 * End to end: the demo app's Kafka consumer ({@code kafka} profile, {@link KafkaOrders})
 * as a separate JVM, on the embedded KRaft broker of spring-kafka-test running in this
 * test's JVM, so that the broker outlives the apps it sends SIGTERM to. Issue 13's
 * reproduction, shortened: a {@code @KafkaListener} with two consumers, one record per
 * poll, 2 s of work per record, an 8 s deadline, six records on two partitions, and
 * SIGTERM while two of them are in flight.
 * <ol>
 * <li>The first instance: both records finish and are committed, it exits within the
 * deadline, saying {@code 2 messages drained} and {@code COMPLETED}, with no wait of
 * Spring's own for the containers' phase. While the two records ran, the status
 * endpoint and the {@code graceful.shutdown.messages.active} gauge counted them.</li>
 * <li>A second instance in the same group gets exactly the four records left: each of
 * the six is processed once across both, none cut, none redelivered, none lost, and the
 * group's committed offsets say so.</li>
 * <li>The second instance, with a 1 s deadline, then gets one more record and SIGTERM
 * while it is in flight: the record outlives the deadline, is named as a straggler with
 * its consumer thread, the verdict is {@code TIMED_OUT}, and its offset stays
 * uncommitted, for the next instance.</li>
 * </ol>
 * One flow with two processes rather than a test per scenario: each start of the demo
 * costs about ten seconds here, and the class runs twice in CI.
 */
class KafkaConsumersIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final Duration WORK = Duration.ofSeconds(2);

	private static final Duration DEADLINE = Duration.ofSeconds(8);

	/** The second instance's: shorter than a record's work. */
	private static final Duration SHORT_DEADLINE = Duration.ofSeconds(1);

	private static final int RECORDS = 6;

	private static final String JOB = "kafka";

	private static final String TOPIC = "orders-e2e";

	private static final String GROUP = "orders-e2e-group";

	private static EmbeddedKafkaKraftBroker broker;

	@TempDir
	Path tempDir;

	@BeforeAll
	static void startBroker() {
		broker = new EmbeddedKafkaKraftBroker(1, 2);
		// One partition for the offsets topic, not fifty: the group coordinator is up sooner.
		broker.brokerProperty("offsets.topic.num.partitions", "1");
		broker.afterPropertiesSet();
	}

	@AfterAll
	static void stopBroker() {
		if (broker != null) {
			broker.destroy();
		}
	}

	@Test
	@Timeout(value = 150, unit = TimeUnit.SECONDS)
	void recordsInFlightFinishOnceTheNextInstanceGetsTheRestAndARecordPastTheDeadlineIsAStraggler()
			throws Exception {
		broker.addTopics(new NewTopic(TOPIC, 2, (short) 1));
		List<String> ids = new ArrayList<>();
		for (int i = 1; i <= RECORDS; i++) {
			ids.add("order-" + i);
		}
		// Alternating partitions: each consumer has three records, one at a time.
		publish(ids, 0);
		Path firstJournal = this.tempDir.resolve("first.log");
		Path secondJournal = this.tempDir.resolve("second.log");

		First first = runFirstInstance(firstJournal);
		Second second = runSecondInstance(firstJournal, secondJournal);

		JournalFile byFirst = JournalFile.read(firstJournal);
		JournalFile bySecond = JournalFile.read(secondJournal);
		String context = "\nfirst instance " + byFirst + "\nsecond instance " + bySecond + "\n---- first instance:\n"
				+ first.tail + "\n---- second instance:\n" + second.tail;
		List<Span> inFlight = byFirst.spans(JOB).stream().filter((span) -> span.inFlightAt(first.sigtermAt)).toList();
		Set<String> firstIds = units(byFirst);
		Set<String> secondIds = units(bySecond);
		secondIds.remove(second.late);
		Set<String> twice = new HashSet<>(firstIds);
		twice.retainAll(secondIds);
		Set<String> all = new HashSet<>(firstIds);
		all.addAll(secondIds);
		long committed0 = committed(0);
		long committed1 = committed(1);
		System.out.printf("E2E-METRIC kafka: exitAfterSigterm=%d ms, inFlightAtSigterm=%d, first=%s, second=%s,"
				+ " stragglerExitAfterSigterm=%d ms (deadline %d ms), committed=[%d, %d]%n", first.exit.toMillis(),
				inFlight.size(), new TreeSet<>(firstIds), new TreeSet<>(secondIds), second.exit.toMillis(),
				SHORT_DEADLINE.toMillis(), committed0, committed1);

		SoftAssertions softly = new SoftAssertions();
		// 1. The first instance drained the two records it had in flight.
		softly.assertThat(inFlight).as("records in flight at SIGTERM (" + first.sigtermAt + ")").hasSize(2);
		softly.assertThat(byFirst.unfinished()).as("records cut by the first instance").isEmpty();
		// Work.perform returns early when interrupted: a full-length record was not cut short.
		softly.assertThat(byFirst.spans(JOB))
			.as("every record the first instance began ran its full " + WORK.toMillis() + " ms")
			.allMatch((span) -> span.end() - span.start() >= WORK.toMillis() - 20);
		softly.assertThat(byFirst.spans(JOB).stream().filter((span) -> span.start() > first.sigtermAt + 100))
			.as("records the first instance began after SIGTERM (it stopped fetching)")
			.isEmpty();
		softly.assertThat(first.statusInFlight).as("shutdown-status inFlight.message while two records ran")
			.isEqualTo(2);
		softly.assertThat(first.gauge).as("graceful.shutdown.messages.active while two records ran").isEqualTo(2);
		int stoppedFetching = E2eFixture.indexOf(first.lines, "message consumers stopped fetching", 0);
		int draining = E2eFixture.indexOf(first.lines, "Draining ", 0);
		softly.assertThat(stoppedFetching).as("the 'stopped fetching' line").isNotNegative();
		if (stoppedFetching >= 0) {
			softly.assertThat(first.lines.get(stoppedFetching)).as("the 'stopped fetching' line")
				.contains("Shutdown requested: message consumers stopped fetching (1 participant), finishing 2 messages");
			softly.assertThat(stoppedFetching).as("consumers stop before the Draining line").isLessThan(draining);
		}
		softly.assertThat(E2eFixture.summary(first.lines, context)).as("the first instance's summary")
			.contains("Graceful shutdown COMPLETED")
			.contains(" 2 messages drained, ")
			.contains(", 0 stragglers");
		softly.assertThat(first.lines).as("Spring's own per-phase timeout on the Kafka registry")
			.noneMatch((line) -> line.contains("still running after timeout"));
		softly.assertThat(first.exit).as("first instance's exit after SIGTERM").isLessThan(DEADLINE);

		// 2. Across both instances, each record once.
		softly.assertThat(bySecond.spans(JOB).stream().filter((span) -> !span.key().unit().equals(second.late)))
			.as("the second instance's records, ended")
			.allMatch(Span::ended);
		softly.assertThat(twice).as("records processed by both instances (redelivered)").isEmpty();
		softly.assertThat(all).as("records processed by either instance (none lost)")
			.containsExactlyInAnyOrderElementsOf(ids);
		softly.assertThat(List.of(committed0, committed1))
			.as("committed offsets: three records per partition, the late one not")
			.containsExactly(3L, 3L);

		// 3. The late record outlived the second instance's deadline.
		String straggler = "kafka orders " + TOPIC + "-0@3";
		int report = E2eFixture.indexOf(second.lines,
				"Shutdown deadline of 1.00 s passed with 1 straggler", 0);
		int named = E2eFixture.indexOf(second.lines, straggler, Math.max(report, 0));
		softly.assertThat(report).as("the deadline report").isNotNegative();
		softly.assertThat(named).as("the straggler, named in the deadline report").isGreaterThan(report);
		if (named >= 0) {
			// orders-0-C-1 on platform threads; on JDK 21+ the demo runs Kafka's consumers on
			// virtual threads, which Spring Boot names kafka-N.
			softly.assertThat(second.lines.get(named)).as("the straggler's line").containsPattern(
					", on thread (orders-0-C-1|kafka-\\d+)$");
			softly.assertThat(E2eFixture.indexOf(second.lines, "KafkaOrders.consume(", named))
				.as("the listener's frame in the straggler's stack")
				.isBetween(named + 1, named + 10);
		}
		softly.assertThat(E2eFixture.summary(second.lines, context)).as("the second instance's summary")
			.contains("Graceful shutdown TIMED_OUT")
			.contains("1 straggler (" + straggler);
		softly.assertThat(bySecond.unfinished()).as("records cut by the second instance")
			.extracting((span) -> span.key().unit())
			.containsExactly(second.late);
		softly.assertThat(second.exit).as("second instance's exit after SIGTERM")
			.isLessThan(SHORT_DEADLINE.plusSeconds(7));
		E2eFixture.assertAll(softly, context);
	}

	private First runFirstInstance(Path journal) throws Exception {
		try (DemoProcess app = DemoProcess.start("kafka-first", args(journal, DEADLINE))) {
			int port = app.awaitHttpPort(STARTUP_TIMEOUT);
			// Two records begun under a second ago: each has over a second of work left.
			app.awaitJournal(journal, "two fresh records in flight", (read) -> read.spans(JOB)
				.stream()
				.filter((span) -> !span.ended() && System.currentTimeMillis() - span.start() < 1000)
				.count() == 2, Duration.ofSeconds(40));
			JsonNode status = E2eFixture.shutdownStatus(port);
			JsonNode gauge = E2eFixture.json(port, "/actuator/metrics/graceful.shutdown.messages.active");
			long sigtermAt = app.sigterm();
			Duration exit = app.awaitExit(DEADLINE.plusSeconds(10));
			System.out.println("E2E-METRIC kafka: " + E2eFixture.STATUS_PATH + " while two records ran: " + status);
			return new First(sigtermAt, exit, status.path("inFlight").path("message").asLong(-1),
					(long) gauge.path("measurements").path(0).path("value").asDouble(-1), app.lines(), app.tail(60));
		}
	}

	private Second runSecondInstance(Path firstJournal, Path journal) throws Exception {
		try (DemoProcess app = DemoProcess.start("kafka-second", args(journal, SHORT_DEADLINE))) {
			int left = RECORDS - JournalFile.read(firstJournal).spans(JOB).size();
			app.awaitJournal(journal, "the " + left + " records the first instance left, ended",
					(read) -> read.spans(JOB).size() == left && read.spans(JOB).stream().allMatch(Span::ended),
					Duration.ofSeconds(40));
			String late = "late-1";
			publish(List.of(late), 0);
			app.awaitJournal(journal, "the late record begun under half a second ago",
					(read) -> read.spans(JOB)
						.stream()
						.anyMatch((span) -> span.key().unit().equals(late) && !span.ended()
								&& System.currentTimeMillis() - span.start() < 500),
					Duration.ofSeconds(20));
			app.sigterm();
			Duration exit = app.awaitExit(SHORT_DEADLINE.plusSeconds(10));
			return new Second(late, exit, app.lines(), app.tail(80));
		}
	}

	private static List<String> args(Path journal, Duration deadline) {
		return List.of("--spring.profiles.active=kafka", "--server.port=0",
				"--spring.kafka.bootstrap-servers=" + broker.getBrokersAsString(), "--demo.kafka.topic=" + TOPIC,
				"--demo.kafka.group=" + GROUP, "--demo.kafka.work=" + WORK.toMillis() + "ms",
				"--demo.journal=" + journal,
				"--spring.lifecycle.timeout-per-shutdown-phase=" + deadline.toSeconds() + "s",
				// The demo's other work, kept short and out of the way.
				"--demo.light.unit=300ms", "--demo.heavy.unit=300ms", "--demo.scheduled.enabled=false");
	}

	/**
	 * Publishes the records, alternating between the two partitions from the given one.
	 */
	private static void publish(List<String> ids, int firstPartition) throws Exception {
		try (KafkaProducer<String, String> producer = new KafkaProducer<>(
				Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.getBrokersAsString()), new StringSerializer(),
				new StringSerializer())) {
			for (int i = 0; i < ids.size(); i++) {
				producer.send(new ProducerRecord<>(TOPIC, (firstPartition + i) % 2, ids.get(i), ids.get(i)))
					.get(30, TimeUnit.SECONDS);
			}
		}
	}

	private static long committed(int partition) throws Exception {
		try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.getBrokersAsString()))) {
			Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(GROUP)
				.partitionsToOffsetAndMetadata()
				.get(30, TimeUnit.SECONDS);
			OffsetAndMetadata offset = offsets.get(new TopicPartition(TOPIC, partition));
			return (offset != null) ? offset.offset() : 0;
		}
	}

	private static Set<String> units(JournalFile journal) {
		Set<String> units = new HashSet<>();
		journal.spans(JOB).forEach((span) -> units.add(span.key().unit()));
		return units;
	}

	private record First(long sigtermAt, Duration exit, long statusInFlight, long gauge, List<String> lines,
			String tail) {
	}

	private record Second(String late, Duration exit, List<String> lines, String tail) {
	}

}
