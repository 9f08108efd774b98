package io.github.gracefulshutdown.demo;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.rabbitmq.client.GetResponse;
import io.github.gracefulshutdown.amqp.RabbitBroker;
import io.github.gracefulshutdown.demo.JournalFile.Span;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * End to end: the demo's {@code @RabbitListener} (profile {@code rabbit}: two consumers)
 * on the real broker, sent a real SIGTERM while both consumers are mid-message, with a
 * second instance started on the same queue as the first shuts down, as in a rolling
 * update.
 * <ul>
 * <li>The two messages in flight finish on the first instance and are acknowledged; the
 * two it had prefetched go back to the queue unprocessed; the second instance processes
 * those and the rest. Every message is processed exactly once, across both journals: none
 * cut, none redelivered, none lost. The first instance exits inside its deadline and its
 * summary says {@code COMPLETED} with {@code 2 messages drained}.</li>
 * <li>A message that outlives the deadline is named as a straggler with its queue and
 * thread, the verdict is {@code TIMED_OUT}, and the broker has the message back.</li>
 * </ul>
 */
class RabbitConsumersIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final Duration WORK = Duration.ofSeconds(2);

	private static final Duration DEADLINE = Duration.ofSeconds(10);

	private static final String JOB = "rabbit";

	@TempDir
	Path tempDir;

	@BeforeAll
	static void broker() {
		RabbitBroker.ensureRunning();
	}

	@Test
	@Timeout(value = 120, unit = TimeUnit.SECONDS)
	void messagesInFlightFinishOnceAndTheNextInstanceGetsTheRestOnce() throws Exception {
		String queue = RabbitBroker.uniqueQueue("orders");
		Path firstJournal = this.tempDir.resolve("first.log");
		Path secondJournal = this.tempDir.resolve("second.log");
		List<String> ids = List.of("m1", "m2", "m3", "m4", "m5", "m6");
		try (DemoProcess first = DemoProcess.start("rabbit-first",
				args(queue, firstJournal, WORK, DEADLINE, "--spring.rabbitmq.listener.simple.prefetch=2"))) {
			int port = first.awaitHttpPort(STARTUP_TIMEOUT);
			first.awaitLine("Started DemoApplication", STARTUP_TIMEOUT);
			// Read once before, so that reading them with messages in flight is quick.
			E2eFixture.shutdownStatus(port);
			E2eFixture.json(port, "/actuator/metrics/graceful.shutdown.messages.active");
			RabbitBroker.publish(queue, ids.toArray(String[]::new));
			// Two consumers, two messages each: two in the listener, two fetched and waiting.
			first.awaitJournal(firstJournal, "two messages in the listener",
					(read) -> read.spans(JOB).size() == 2 && read.spans(JOB).stream().noneMatch(Span::ended),
					Duration.ofSeconds(15));
			JsonNode status = E2eFixture.shutdownStatus(port);
			JsonNode gauge = E2eFixture.json(port, "/actuator/metrics/graceful.shutdown.messages.active");
			long sigtermAt = first.sigterm();
			try (DemoProcess second = DemoProcess.start("rabbit-second",
					args(queue, secondJournal, WORK, DEADLINE))) {
				Duration firstExit = first.awaitExit(DEADLINE.plusSeconds(10));
				second.awaitJournal(secondJournal, "the four other messages processed",
						(read) -> read.spans(JOB).stream().filter(Span::ended).count() >= 4, STARTUP_TIMEOUT);
				second.sigterm();
				second.awaitExit(DEADLINE.plusSeconds(10));

				JournalFile firstUnits = JournalFile.read(firstJournal);
				JournalFile secondUnits = JournalFile.read(secondJournal);
				List<String> lines = first.lines();
				String context = "\nfirst " + firstUnits + "\nsecond " + secondUnits + "\n" + first.tail(50) + "\n"
						+ second.tail(20);
				List<Span> spans = Stream.concat(firstUnits.spans(JOB).stream(), secondUnits.spans(JOB).stream())
					.toList();
				Map<String, Long> processed = spans.stream()
					.collect(Collectors.groupingBy((span) -> span.key().unit(), Collectors.counting()));
				String summary = E2eFixture.summary(lines, context);
				System.out.printf("E2E-METRIC rabbit: sigtermAfterFirstStart=%d ms, firstExitAfterSigterm=%d ms,"
						+ " inFlightAtSigterm=%d, onFirst=%d, onSecond=%d%n",
						sigtermAt - firstUnits.spans(JOB).stream().mapToLong(Span::start).min().orElse(sigtermAt),
						firstExit.toMillis(),
						firstUnits.spans(JOB).stream().filter((span) -> span.inFlightAt(sigtermAt)).count(),
						firstUnits.spans(JOB).size(), secondUnits.spans(JOB).size());

				SoftAssertions softly = new SoftAssertions();
				softly.assertThat(processed).as("times each message was processed, on both instances")
					.containsOnlyKeys(ids)
					.allSatisfy((id, times) -> assertThat(times).as(id).isOne());
				softly.assertThat(spans).as("messages cut in half").allMatch(Span::ended);
				softly.assertThat(firstUnits.spans(JOB)).as("the first instance's messages, in flight at SIGTERM")
					.hasSize(2)
					.allMatch((span) -> span.inFlightAt(sigtermAt));
				softly.assertThat(firstUnits.spans(JOB)).as("each ran its full " + WORK.toMillis() + " ms")
					.allMatch((span) -> span.end() - span.start() >= WORK.toMillis() - 20);
				softly.assertThat(secondUnits.spans(JOB)).as("the second instance's messages").hasSize(4);
				softly.assertThat(RabbitBroker.state(queue).getMessageCount()).as("messages left in the queue").isZero();
				softly.assertThat(status.path("inFlight").path("message").asLong(-1))
					.as("messages in flight in " + E2eFixture.STATUS_PATH + ": " + status)
					.isEqualTo(2);
				softly.assertThat(gauge.path("measurements").path(0).path("value").asDouble(-1))
					.as("graceful.shutdown.messages.active: " + gauge)
					.isEqualTo(2.0);
				softly.assertThat(lines).as("the first instance's log")
					.anyMatch((line) -> line.contains("Shutdown requested: message consumers stopped fetching "
							+ "(1 participant), finishing 2 messages"))
					.noneMatch((line) -> line.contains("Closing channel for unresponsive consumer"))
					.noneMatch((line) -> line.contains("Workers not finished"));
				softly.assertThat(summary).as("the first instance's summary")
					.contains("Graceful shutdown COMPLETED in")
					.contains("2 messages drained")
					.contains("0 stragglers");
				softly.assertThat(firstExit).as("the first instance's exit after SIGTERM").isLessThan(DEADLINE);
				softly.assertThat(E2eFixture.summary(second.lines(), context)).as("the second instance's summary")
					.contains("Graceful shutdown COMPLETED in");
				E2eFixture.assertAll(softly, context);
			}
		}
		finally {
			RabbitBroker.delete(queue);
		}
	}

	@Test
	@Timeout(value = 60, unit = TimeUnit.SECONDS)
	void aMessageThatOutlivesTheDeadlineIsNamedAndTheVerdictIsTimedOut() throws Exception {
		String queue = RabbitBroker.uniqueQueue("straggler");
		Path journal = this.tempDir.resolve("journal.log");
		Duration deadline = Duration.ofSeconds(2);
		try (DemoProcess app = DemoProcess.start("rabbit-straggler",
				args(queue, journal, Duration.ofSeconds(4), deadline, "--demo.rabbit.concurrency=1"))) {
			app.awaitLine("Started DemoApplication", STARTUP_TIMEOUT);
			RabbitBroker.publish(queue, "s1");
			app.awaitJournal(journal, "the message in the listener", (read) -> read.hasUnfinished(JOB),
					Duration.ofSeconds(15));
			app.sigterm();
			Duration exit = app.awaitExit(deadline.plusSeconds(15));

			List<String> lines = app.lines();
			JournalFile units = JournalFile.read(journal);
			String context = "\n" + units + "\n" + app.tail(60);
			String straggler = "rabbit orders queue=" + queue;
			// Interrupted at the deadline, the listener fails and the message is requeued.
			GetResponse back = RabbitBroker.take(queue);

			SoftAssertions softly = new SoftAssertions();
			softly.assertThat(lines).as("the deadline report")
				.anyMatch((line) -> line.contains("Shutdown deadline of 2.00 s passed with 1 straggler"))
				.anyMatch((line) -> line.contains(straggler + ", running for ") && line.contains(", on thread "));
			softly.assertThat(E2eFixture.summary(lines, context)).as("summary")
				.contains("Graceful shutdown TIMED_OUT in")
				.contains("1 straggler (" + straggler + ")")
				.doesNotContain("COMPLETED");
			softly.assertThat(units.unfinished()).as("the message cut at the deadline")
				.extracting((span) -> span.key().unit())
				.containsExactly("s1");
			softly.assertThat(exit).as("exit after SIGTERM").isBetween(deadline, deadline.plusSeconds(5));
			softly.assertThat(back).as("the message, back in the queue").isNotNull();
			if (back != null) {
				softly.assertThat(new String(back.getBody(), StandardCharsets.UTF_8)).isEqualTo("s1");
				softly.assertThat(back.getEnvelope().isRedeliver()).as("redelivered").isTrue();
			}
			E2eFixture.assertAll(softly, context);
		}
		finally {
			RabbitBroker.delete(queue);
		}
	}

	private static List<String> args(String queue, Path journal, Duration work, Duration deadline, String... more) {
		List<String> args = new ArrayList<>(List.of("--spring.profiles.active=rabbit", "--server.port=0",
				"--demo.rabbit.queue=" + queue, "--demo.journal=" + journal,
				"--demo.rabbit.work=" + work.toMillis() + "ms",
				"--spring.lifecycle.timeout-per-shutdown-phase=" + deadline.toMillis() + "ms",
				// The ledger jobs in short units, and no scheduled runs: the messages are the work.
				"--demo.heavy.unit=300ms", "--demo.light.unit=300ms", "--demo.scheduled.enabled=false"));
		args.addAll(List.of(more));
		return args;
	}

}
