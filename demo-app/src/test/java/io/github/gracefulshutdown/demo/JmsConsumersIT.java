package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import io.github.gracefulshutdown.demo.JournalFile.Span;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * End to end: the demo's {@code @JmsListener} (profile {@code jms}, two consumers) on a
 * real Artemis broker that runs in the test JVM, so it outlives the demo processes. A
 * real SIGTERM while both consumers are mid-message: they stop receiving at once, finish
 * the two messages and commit them, and the messages that the client had prefetched go
 * back to the queue, where a second instance takes them. Every message is processed
 * exactly once. A message that outlives the deadline is named as a straggler, the verdict
 * is {@code TIMED_OUT}, and the message goes back to the broker rather than being lost.
 */
class JmsConsumersIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final String JOB = "orders";

	@TempDir
	static Path brokerDirectory;

	private static ArtemisBroker broker;

	@TempDir
	Path tempDir;

	@BeforeAll
	static void startBroker() throws Exception {
		broker = ArtemisBroker.start(brokerDirectory);
	}

	@AfterAll
	static void stopBroker() throws Exception {
		broker.close();
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void sigtermFinishesTheMessagesInFlightAndTheNextInstanceTakesTheRestEachExactlyOnce() throws Exception {
		String queue = "orders-exactly-once";
		List<String> ids = ids(8);
		Path firstJournal = this.tempDir.resolve("first.log");
		Path secondJournal = this.tempDir.resolve("second.log");
		long sigtermAt;
		Duration exitTime;
		List<String> firstLines;
		long deliveredAtSigterm;
		JsonNode statusAtSigterm;
		JsonNode gaugeAtSigterm;
		try (DemoProcess first = DemoProcess.start("jms-first", args(queue, firstJournal, "3s", "10s", true))) {
			int port = first.awaitHttpPort(STARTUP_TIMEOUT);
			broker.await("the listener's two consumers", () -> broker.consumerCount(queue) == 2, STARTUP_TIMEOUT,
					first);
			broker.send(queue, ids);
			// Mid-message: both consumers began one less than a second ago (2 s of it left).
			first.awaitJournal(firstJournal, "two fresh messages in the listener", (read) -> read.spans(JOB)
				.stream()
				.filter((span) -> !span.ended() && System.currentTimeMillis() - span.start() < 1000)
				.count() == 2, Duration.ofSeconds(20));
			statusAtSigterm = E2eFixture.shutdownStatus(port);
			gaugeAtSigterm = E2eFixture.json(port, "/actuator/metrics/graceful.shutdown.messages.active");
			// The two in the listeners and the six the client prefetched.
			deliveredAtSigterm = broker.deliveringCount(queue);
			sigtermAt = first.sigterm();
			exitTime = first.awaitExit(Duration.ofSeconds(20));
			firstLines = first.lines();
		}
		// Given back as the container closed its consumers, before the process exited.
		long onQueueAfterExit = broker.messageCount(queue);
		int deliveredAfterExit = broker.deliveringCount(queue);

		List<String> secondLines;
		try (DemoProcess second = DemoProcess.start("jms-second", args(queue, secondJournal, "200ms", "10s", false))) {
			second.awaitJournal(secondJournal, "the rest of the messages processed", (read) -> read.spans(JOB)
				.stream()
				.filter(Span::ended)
				.count() == ids.size() - 2, STARTUP_TIMEOUT);
			second.sigterm();
			second.awaitExit(Duration.ofSeconds(20));
			secondLines = second.lines();
		}

		JournalFile firstUnits = JournalFile.read(firstJournal);
		JournalFile secondUnits = JournalFile.read(secondJournal);
		List<Span> firstOrders = firstUnits.spans(JOB);
		List<Span> secondOrders = secondUnits.spans(JOB);
		List<String> processed = new ArrayList<>();
		firstOrders.forEach((span) -> processed.add(span.key().unit()));
		secondOrders.forEach((span) -> processed.add(span.key().unit()));
		String summary = E2eFixture.summary(firstLines, "");
		String context = "\nfirst " + firstUnits + "\nsecond " + secondUnits + "\n---- first instance ----\n"
				+ String.join("\n", tail(firstLines, 50)) + "\n---- second instance ----\n"
				+ String.join("\n", tail(secondLines, 20));
		System.out.printf("E2E-METRIC jms: exitAfterSigterm=%d ms, inFlightAtSigterm=%d, deliveredAtSigterm=%d,"
				+ " onQueueAfterExit=%d, firstProcessed=%d, secondProcessed=%d%n", exitTime.toMillis(),
				firstOrders.stream().filter((span) -> span.inFlightAt(sigtermAt)).count(), deliveredAtSigterm,
				onQueueAfterExit, firstOrders.size(), secondOrders.size());
		System.out.printf("E2E-METRIC jms: status at SIGTERM: state=%s inFlight=%s, messages.active gauge=%s%n",
				statusAtSigterm.path("state"), statusAtSigterm.path("inFlight"),
				gaugeAtSigterm.path("measurements").path(0).path("value"));

		SoftAssertions softly = new SoftAssertions();
		// A unit started twice fails the journal's read: none was redelivered within an
		// instance. Across the two, each id once, and every one ended.
		softly.assertThat(processed).as("messages processed, by either instance").containsExactlyInAnyOrderElementsOf(ids);
		softly.assertThat(new HashSet<>(processed)).as("distinct messages processed").hasSize(processed.size());
		softly.assertThat(firstUnits.unfinished()).as("units the first instance cut in half").isEmpty();
		softly.assertThat(secondUnits.unfinished()).as("units the second instance cut in half").isEmpty();
		softly.assertThat(firstOrders).as("the first instance's messages, all in flight at SIGTERM (" + sigtermAt + ")")
			.hasSize(2)
			.allMatch((span) -> span.inFlightAt(sigtermAt));
		softly.assertThat(statusAtSigterm.path("inFlight").path("message").asLong(-1))
			.as("messages in flight in " + E2eFixture.STATUS_PATH + ": " + statusAtSigterm)
			.isEqualTo(2);
		softly.assertThat(gaugeAtSigterm.path("measurements").path(0).path("value").asDouble(-1))
			.as("graceful.shutdown.messages.active: " + gaugeAtSigterm)
			.isEqualTo(2.0);
		softly.assertThat(deliveredAtSigterm).as("messages the broker had handed to the first instance at SIGTERM")
			.isEqualTo(ids.size());
		softly.assertThat(onQueueAfterExit).as("messages back on the queue after the first instance exited")
			.isEqualTo(ids.size() - 2);
		softly.assertThat(deliveredAfterExit).as("messages still handed to a consumer after the first instance exited")
			.isZero();
		softly.assertThat(broker.messageCount(queue)).as("messages left on the queue at the end").isZero();
		softly.assertThat(broker.acknowledgedCount(queue)).as("messages acknowledged").isEqualTo(ids.size());

		softly.assertThat(exitTime).as("exit time after SIGTERM, within the 10 s deadline")
			.isLessThan(Duration.ofSeconds(10));
		softly.assertThat(firstLines).as("consumers stopped as the shutdown started")
			.anyMatch((line) -> line.contains("Shutdown requested: message consumers stopped fetching")
					&& line.contains("finishing 2 messages"));
		softly.assertThat(firstLines).as("no message received while stopping and rolled back")
			.noneMatch((line) -> line.contains("Rejecting received message"));
		softly.assertThat(summary).as("summary")
			.contains("Graceful shutdown COMPLETED")
			.contains(" 2 messages drained")
			.contains(" 0 stragglers");
		E2eFixture.assertAll(softly, context);
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void aMessageThatOutlivesTheDeadlineIsNamedAsAStragglerAndGoesBackToTheBroker() throws Exception {
		String queue = "orders-straggler";
		List<String> ids = ids(3);
		Path journal = this.tempDir.resolve("journal.log");
		Duration exitTime;
		List<String> lines;
		try (DemoProcess app = DemoProcess.start("jms-straggler", args(queue, journal, "30s", "2s", false))) {
			broker.await("the listener's two consumers", () -> broker.consumerCount(queue) == 2, STARTUP_TIMEOUT,
					app);
			broker.send(queue, ids);
			app.awaitJournal(journal, "two messages in the listener",
					(read) -> E2eFixture.unfinished(read, JOB) == 2, Duration.ofSeconds(20));
			app.sigterm();
			exitTime = app.awaitExit(Duration.ofSeconds(20));
			lines = app.lines();
		}
		JournalFile units = JournalFile.read(journal);
		long onQueueAfterExit = broker.messageCount(queue);
		List<String> redelivered = broker.drain(queue);
		String straggler = "jms orders destination=" + queue;
		String summary = E2eFixture.summary(lines, "");
		String context = "\n" + units + "\n" + String.join("\n", tail(lines, 80));
		System.out.printf("E2E-METRIC jms-straggler: exitAfterSigterm=%d ms, deadline=2000 ms, onQueueAfterExit=%d%n",
				exitTime.toMillis(), onQueueAfterExit);

		SoftAssertions softly = new SoftAssertions();
		softly.assertThat(lines).as("the deadline report")
			.anyMatch((line) -> line.contains("Shutdown deadline of 2.00 s passed with 2 stragglers"));
		softly.assertThat(lines).as("each straggler named, on its consumer's thread")
			.filteredOn((line) -> line.contains(straggler + ", running for ") && line.contains(", on thread orders-"))
			.hasSize(2);
		softly.assertThat(summary).as("summary")
			.contains("Graceful shutdown TIMED_OUT")
			.contains("2 stragglers (" + straggler + " x2)")
			.doesNotContain("COMPLETED");
		softly.assertThat(units.spans(JOB)).as("messages begun").hasSize(2);
		// Interrupted at the deadline: the listener journals CUT and throws, the
		// container rolls back.
		softly.assertThat(units.unfinished()).as("messages cut at the deadline").hasSize(2);
		softly.assertThat(onQueueAfterExit).as("messages back on the queue after the exit").isEqualTo(ids.size());
		softly.assertThat(redelivered).as("messages another consumer then receives").containsExactlyInAnyOrderElementsOf(ids);
		softly.assertThat(exitTime).as("exit time after SIGTERM: the deadline and the watchdog's 5 s margin")
			.isGreaterThanOrEqualTo(Duration.ofMillis(1900))
			.isLessThan(Duration.ofSeconds(2 + 5));
		E2eFixture.assertAll(softly, context);
	}

	/**
	 * The demo's arguments; without a web server (the endpoint and the meters are read
	 * from the first instance only) an instance starts sooner.
	 */
	private static List<String> args(String queue, Path journal, String work, String deadline, boolean web) {
		return List.of("--spring.profiles.active=jms", "--spring.artemis.broker-url=" + broker.url(),
				"--demo.jms.queue=" + queue, "--demo.jms.work=" + work, "--demo.journal=" + journal,
				"--spring.lifecycle.timeout-per-shutdown-phase=" + deadline,
				web ? "--server.port=0" : "--spring.main.web-application-type=none",
				// Short job units and no @Scheduled runs: the drain waits for messages, not jobs.
				"--demo.heavy.unit=300ms", "--demo.light.unit=200ms", "--demo.scheduled.enabled=false");
	}

	private static List<String> ids(int count) {
		return IntStream.rangeClosed(1, count).mapToObj((i) -> "m" + i).toList();
	}

	private static List<String> tail(List<String> lines, int count) {
		return lines.subList(Math.max(0, lines.size() - count), lines.size());
	}

}
