package io.github.gracefulshutdown.demo;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.github.gracefulshutdown.demo.JournalFile.Span;
import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * End to end over real gRPC: the demo app with the {@code grpc} profile, a real client
 * channel from this JVM, and a real SIGTERM while calls of {@code demo.Work/Run} are in
 * flight.
 * <ul>
 * <li>With a drain delay: gRPC health says {@code NOT_SERVING} as soon as the shutdown
 * starts, while the calls go on; the status endpoint lists them; once the drain starts
 * (GOAWAY) a new call is refused with {@code UNAVAILABLE} and never runs; every call in
 * flight completes, once, and the summary counts them drained and says COMPLETED.</li>
 * <li>With a call that outlives the deadline: it is named as a straggler by its method,
 * with its thread's stack; the client sees it end with an error, never a silent cut; the
 * others complete; the verdict is TIMED_OUT.</li>
 * </ul>
 * In both, every call the client started either completed OK or ended with an error the
 * client saw, and the journal agrees: an OK answer for each call that ran to its end,
 * none for a call cut or never run.
 */
class GrpcCallsIT {

	private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);

	private static final Duration DRAIN_DELAY = Duration.ofMillis(1500);

	/**
	 * Started just before SIGTERM, so the calls span the drain delay and end in the drain,
	 * with room for a loaded machine's slow requests before the signal.
	 */
	private static final Duration CALL = Duration.ofSeconds(4);

	private static final int CALLS = 3;

	private static final String METHOD = "grpc demo.Work/Run";

	private static final String CALLS_GAUGE = "/actuator/metrics/graceful.shutdown.calls.active";

	@TempDir
	Path tempDir;

	@Test
	@Timeout(value = 90, unit = TimeUnit.SECONDS)
	void callsInFlightAtSigtermCompleteOnceWhileHealthSaysNotServingAndLaterCallsAreRefused() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		int grpcPort = E2eFixture.freePort();
		try (DemoProcess app = DemoProcess.start("grpc-drain", args(journal, grpcPort,
				"--graceful-shutdown.drain-delay=" + DRAIN_DELAY.toMillis() + "ms",
				"--spring.lifecycle.timeout-per-shutdown-phase=10s"))) {
			int httpPort = app.awaitHttpPort(STARTUP_TIMEOUT);
			app.awaitLine("Started DemoApplication", STARTUP_TIMEOUT);
			ManagedChannel channel = channel(grpcPort);
			try {
				HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
				ServingStatus healthBefore = health(health, "");
				// Also warms the metrics endpoint up, so that the read with the calls in flight is quick.
				JsonNode gaugeBefore = E2eFixture.json(httpPort, CALLS_GAUGE);

				Map<String, CompletableFuture<String>> calls = new LinkedHashMap<>();
				for (int i = 1; i <= CALLS; i++) {
					String id = "call-" + i;
					calls.put(id, call(channel, id + " " + CALL.toMillis() + "ms"));
				}
				app.awaitJournal(journal, CALLS + " calls in flight",
						(read) -> read.spans(GrpcWork.JOB).stream().filter((span) -> !span.ended()).count() == CALLS,
						Duration.ofSeconds(10));
				JsonNode gauge = E2eFixture.json(httpPort, CALLS_GAUGE);

				long sigtermAt = app.sigterm();
				app.awaitLine("gRPC health: NOT_SERVING", Duration.ofSeconds(5));
				ServingStatus healthInDelay = health(health, "");
				ServingStatus serviceHealthInDelay = health(health, "demo.Work");
				long checkedInDelayAt = System.currentTimeMillis();
				// Still serving HTTP during the delay, with the calls in flight.
				JsonNode statusInDelay = E2eFixture.shutdownStatus(httpPort);

				// Draining: GOAWAY sent; once this channel has seen it, a new call goes nowhere.
				app.awaitLine("stopped taking new calls (GOAWAY)", Duration.ofSeconds(10));
				awaitLeft(channel, ConnectivityState.READY, Duration.ofSeconds(5));
				CompletableFuture<String> late = call(channel, "late-1 100ms");
				Throwable lateFailure = failure(late, Duration.ofSeconds(10));

				Duration exitTime = app.awaitExit(Duration.ofSeconds(20));
				JournalFile units = JournalFile.read(journal);
				List<String> lines = app.lines();
				String context = "\n" + units + "\n" + app.tail(50);
				Map<String, String> answers = answers(calls);
				int draining = E2eFixture.indexOf(lines, "Draining ", 0);
				int drainStarted = E2eFixture.indexOf(lines, "stopped taking new calls (GOAWAY)", 0);
				long sigtermAfterStart = sigtermAt
						- units.spans(GrpcWork.JOB).stream().mapToLong(Span::start).min().orElse(sigtermAt);
				System.out.printf("E2E-METRIC grpc-drain: exitAfterSigterm=%d ms, sigtermAfterCallsStarted=%d ms,"
						+ " callsInFlightAtSigterm=%d, healthInDelay=%s, late=%s, statusInDelay=%s%n",
						exitTime.toMillis(), sigtermAfterStart,
						units.spans(GrpcWork.JOB).stream().filter((span) -> span.inFlightAt(sigtermAt)).count(),
						healthInDelay, lateFailure, statusInDelay);

				SoftAssertions softly = new SoftAssertions();
				softly.assertThat(healthBefore).as("gRPC health before SIGTERM").isEqualTo(ServingStatus.SERVING);
				softly.assertThat(gaugeBefore.path("measurements").path(0).path("value").asDouble(-1))
					.as("graceful.shutdown.calls.active before the calls: " + gaugeBefore)
					.isZero();
				softly.assertThat(gauge.path("measurements").path(0).path("value").asDouble())
					.as("graceful.shutdown.calls.active with the calls in flight: " + gauge)
					.isEqualTo(CALLS);
				softly.assertThat(healthInDelay).as("gRPC health during the drain delay")
					.isEqualTo(ServingStatus.NOT_SERVING);
				softly.assertThat(serviceHealthInDelay).as("demo.Work's gRPC health during the drain delay")
					.isEqualTo(ServingStatus.NOT_SERVING);
				softly.assertThat(checkedInDelayAt - sigtermAt).as("health checked within the drain delay (ms)")
					.isLessThan(DRAIN_DELAY.toMillis());
				softly.assertThat(E2eFixture.text(statusInDelay, "state"))
					.as("state during the delay: " + statusInDelay)
					.isEqualTo("DRAIN_DELAY");
				softly.assertThat(statusInDelay.path("inFlight").path("call").asLong(-1))
					.as("calls in flight in " + E2eFixture.STATUS_PATH + ": " + statusInDelay)
					.isEqualTo(CALLS);
				// Every call in flight: answered OK, exactly once, after running its full length.
				for (String id : calls.keySet()) {
					softly.assertThat(answers.get(id)).as("the answer to " + id).isEqualTo("done " + id);
				}
				softly.assertThat(units.spans(GrpcWork.JOB)).as("calls in the journal")
					.extracting((span) -> span.key().unit())
					.containsExactlyInAnyOrderElementsOf(calls.keySet());
				softly.assertThat(units.spans(GrpcWork.JOB)).as("every call ran its full " + CALL.toMillis() + " ms")
					.allMatch((span) -> span.ended() && span.end() - span.start() >= CALL.toMillis() - 20);
				softly.assertThat(units.unfinished()).as("units cut in half").isEmpty();
				softly.assertThat(units.spans(GrpcWork.JOB)).as("calls in flight at SIGTERM (" + sigtermAt + ")")
					.allMatch((span) -> span.inFlightAt(sigtermAt));
				// The call after the drain began: refused, told so, never run.
				softly.assertThat(lateFailure).as("the call started after the drain began")
					.isInstanceOfSatisfying(StatusRuntimeException.class,
							(ex) -> softly.assertThat(ex.getStatus().getCode()).as("its status: " + ex.getStatus())
								.isEqualTo(Status.Code.UNAVAILABLE));
				softly.assertThat(units.units()).as("the late call never ran")
					.doesNotContainKey(new JournalFile.UnitKey(GrpcWork.JOB, "late-1"));
				softly.assertThat(draining).as("a Draining line").isNotNegative();
				if (draining >= 0) {
					softly.assertThat(lines.get(draining)).as("Draining line")
						.contains(" " + CALLS + " calls, ");
					softly.assertThat(E2eFixture.logMillis(lines.get(draining)) - sigtermAt)
						.as("the drain began after the drain delay (ms)")
						.isGreaterThanOrEqualTo(DRAIN_DELAY.toMillis() - 100);
				}
				softly.assertThat(drainStarted).as("GOAWAY after the Draining line").isGreaterThan(draining);
				softly.assertThat(E2eFixture.summary(lines, context)).as("summary")
					.contains("Graceful shutdown COMPLETED in ")
					.contains(CALLS + " calls drained, ")
					.contains(" 0 stragglers");
				softly.assertThat(lines).as("Spring gRPC's own stop, which would wait its grace period")
					.noneMatch((line) -> line.contains("Completed gRPC server shutdown"));
				softly.assertThat(lines).as("WARN or ERROR lines")
					.noneMatch((line) -> line.contains(" WARN ") || line.contains(" ERROR "));
				softly.assertThat(exitTime).as("exit after SIGTERM: the calls' end, within delay + deadline")
					.isLessThan(DRAIN_DELAY.plusSeconds(10));
				E2eFixture.assertAll(softly, context);
			}
			finally {
				channel.shutdownNow();
			}
		}
	}

	@Test
	@Timeout(value = 90, unit = TimeUnit.SECONDS)
	void aCallThatOutlivesTheDeadlineIsNamedAndCancelledAndNoCallIsCutSilently() throws Exception {
		Path journal = this.tempDir.resolve("journal.log");
		int grpcPort = E2eFixture.freePort();
		Duration deadline = Duration.ofSeconds(2);
		try (DemoProcess app = DemoProcess.start("grpc-straggler", args(journal, grpcPort,
				"--spring.lifecycle.timeout-per-shutdown-phase=" + deadline.toSeconds() + "s"))) {
			app.awaitLine("Started DemoApplication", STARTUP_TIMEOUT);
			ManagedChannel channel = channel(grpcPort);
			try {
				Map<String, CompletableFuture<String>> calls = new LinkedHashMap<>();
				calls.put("short-1", call(channel, "short-1 1s"));
				calls.put("short-2", call(channel, "short-2 1s"));
				calls.put("long-1", call(channel, "long-1 60s"));
				app.awaitJournal(journal, "3 calls in flight",
						(read) -> read.spans(GrpcWork.JOB).stream().filter((span) -> !span.ended()).count() == 3,
						Duration.ofSeconds(10));

				long sigtermAt = app.sigterm();
				Duration exitTime = app.awaitExit(Duration.ofSeconds(20));
				JournalFile units = JournalFile.read(journal);
				List<String> lines = app.lines();
				String context = "\n" + units + "\n" + app.tail(60);
				Map<String, String> answers = answers(calls);
				Throwable longFailure = failure(calls.get("long-1"), Duration.ofSeconds(5));
				int deadlineBlock = E2eFixture.indexOf(lines, "Shutdown deadline of 2.00 s passed with 1 straggler", 0);
				List<String> block = new ArrayList<>();
				for (int i = deadlineBlock + 1; deadlineBlock >= 0 && i < lines.size()
						&& lines.get(i).startsWith("  "); i++) {
					block.add(lines.get(i).strip());
				}
				System.out.printf("E2E-METRIC grpc-straggler: exitAfterSigterm=%d ms, long=%s%n", exitTime.toMillis(),
						longFailure);

				SoftAssertions softly = new SoftAssertions();
				softly.assertThat(answers.get("short-1")).as("short-1").isEqualTo("done short-1");
				softly.assertThat(answers.get("short-2")).as("short-2").isEqualTo("done short-2");
				softly.assertThat(longFailure).as("the call past the deadline, as its client saw it")
					.isInstanceOfSatisfying(StatusRuntimeException.class,
							(ex) -> softly.assertThat(ex.getStatus().getCode()).as("its status: " + ex.getStatus())
								.isIn(Status.Code.UNAVAILABLE, Status.Code.CANCELLED));
				// No call cut silently: an OK answer exactly for the calls that ran to their end.
				for (String id : calls.keySet()) {
					Span span = units.units().get(new JournalFile.UnitKey(GrpcWork.JOB, id));
					softly.assertThat(span).as("the journal of " + id).isNotNull();
					boolean answeredOk = ("done " + id).equals(answers.get(id));
					softly.assertThat(span != null && span.ended()).as(id + " ended in the journal, as its client "
							+ (answeredOk ? "was answered OK" : "saw an error"))
						.isEqualTo(answeredOk);
				}
				softly.assertThat(deadlineBlock).as("the deadline's WARN block").isNotNegative();
				softly.assertThat(block).as("the straggler, with its thread and stack")
					.anyMatch((line) -> line.startsWith(METHOD + ", running for ") && line.contains(", on thread "))
					.anyMatch((line) -> line.startsWith("at io.github.gracefulshutdown.demo.GrpcWork.run("));
				softly.assertThat(E2eFixture.summary(lines, context)).as("summary")
					.contains("Graceful shutdown TIMED_OUT in ")
					.contains(" 2 calls drained, ")
					.contains("1 straggler (" + METHOD + ")")
					.doesNotContain("COMPLETED");
				softly.assertThat(lines).as("Spring gRPC's own stop, which would wait its grace period")
					.noneMatch((line) -> line.contains("Completed gRPC server shutdown"));
				softly.assertThat(exitTime).as("exit after SIGTERM: the deadline, and no grace period on top")
					.isGreaterThanOrEqualTo(deadline.minusMillis(200))
					.isLessThan(deadline.plusSeconds(4));
				E2eFixture.assertAll(softly, context);
			}
			finally {
				channel.shutdownNow();
			}
		}
	}

	private static List<String> args(Path journal, int grpcPort, String... more) {
		List<String> args = new ArrayList<>(List.of("--spring.profiles.active=grpc", "--demo.journal=" + journal,
				"--server.port=0", "--spring.grpc.server.address=127.0.0.1", "--spring.grpc.server.port=" + grpcPort,
				// Short background units and no @Scheduled runs: the calls are what drains.
				"--demo.light.unit=200ms", "--demo.heavy.unit=300ms", "--demo.scheduled.enabled=false",
				"--logging.level.io.github.gracefulshutdown.grpc=debug"));
		args.addAll(List.of(more));
		return args;
	}

	private static ManagedChannel channel(int port) {
		return Grpc.newChannelBuilder("127.0.0.1:" + port, InsecureChannelCredentials.create()).build();
	}

	/**
	 * Starts a call of {@code demo.Work/Run} on the channel.
	 * @return the answer, or the failure the client saw
	 */
	private static CompletableFuture<String> call(ManagedChannel channel, String request) {
		CompletableFuture<String> answer = new CompletableFuture<>();
		ClientCalls.asyncUnaryCall(
				channel.newCall(GrpcWork.RUN, CallOptions.DEFAULT.withDeadlineAfter(90, TimeUnit.SECONDS)), request,
				new StreamObserver<>() {

					@Override
					public void onNext(String value) {
						answer.complete(value);
					}

					@Override
					public void onError(Throwable failure) {
						answer.completeExceptionally(failure);
					}

					@Override
					public void onCompleted() {
						answer.complete(null);
					}

				});
		return answer;
	}

	private static ServingStatus health(HealthGrpc.HealthBlockingStub health, String service) {
		return health.withDeadlineAfter(5, TimeUnit.SECONDS)
			.check(HealthCheckRequest.newBuilder().setService(service).build())
			.getStatus();
	}

	/**
	 * Waits, on the channel's own notification, until it leaves the state: a channel
	 * that received GOAWAY leaves READY, and its next call needs a new connection.
	 */
	private static void awaitLeft(ManagedChannel channel, ConnectivityState state, Duration timeout)
			throws InterruptedException, ExecutionException {
		CompletableFuture<ConnectivityState> left = new CompletableFuture<>();
		channel.notifyWhenStateChanged(state, () -> left.complete(channel.getState(false)));
		try {
			left.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
		}
		catch (TimeoutException ex) {
			throw new AssertionError("The channel stayed " + state + " for " + timeout);
		}
	}

	/**
	 * Returns the answer to each call, or what it failed with.
	 */
	private static Map<String, String> answers(Map<String, CompletableFuture<String>> calls)
			throws InterruptedException {
		Map<String, String> answers = new LinkedHashMap<>();
		for (Map.Entry<String, CompletableFuture<String>> call : calls.entrySet()) {
			try {
				answers.put(call.getKey(), call.getValue().get(10, TimeUnit.SECONDS));
			}
			catch (ExecutionException ex) {
				answers.put(call.getKey(), "failed: " + ex.getCause());
			}
			catch (TimeoutException ex) {
				answers.put(call.getKey(), "no answer within 10 s");
			}
		}
		return answers;
	}

	private static Throwable failure(CompletableFuture<String> call, Duration timeout) throws InterruptedException {
		try {
			String answer = call.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
			return new AssertionError("answered: " + answer);
		}
		catch (ExecutionException ex) {
			return ex.getCause();
		}
		catch (TimeoutException ex) {
			return new AssertionError("no answer within " + timeout);
		}
	}

}
