package io.github.gracefulshutdown.grpc;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.ShutdownParticipant.InFlight;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.core.ShutdownState;
import io.grpc.BindableService;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyServerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.grpc.server.NettyGrpcServerFactory;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The gRPC participant against a real Netty gRPC server, built by Spring Boot, and a real
 * client: calls in flight finish inside the sequence, new ones are refused with
 * {@code UNAVAILABLE}, a call past the deadline is named, cancelled and listed until its
 * handler really returns, and gRPC health follows readiness.
 */
@ExtendWith(OutputCaptureExtension.class)
class InFlightCallsTests {

	private static final Duration WAIT = Duration.ofSeconds(10);

	private final ApplicationContextRunner runner = new ApplicationContextRunner()
		.withConfiguration(GracefulShutdownGrpcAutoConfigurationTests.CONFIGURATIONS)
		.withPropertyValues("spring.grpc.server.address=127.0.0.1", "spring.grpc.server.port=0",
				// Spring gRPC's own stop would wait this long: it must not be reached.
				"spring.grpc.server.shutdown.grace-period=30s");

	@Test
	void callsInFlightFinishInsideTheSequenceAndLaterCallsAreRefused(CapturedOutput output) {
		WorkService work = new WorkService(true);
		this.runner.withBean(BindableService.class, () -> work)
			.withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=10s")
			.run((context) -> {
				ManagedChannel channel = channel(context);
				try {
					List<CompletableFuture<String>> answers = new ArrayList<>();
					for (int i = 1; i <= 3; i++) {
						answers.add(WorkService.call(channel, WorkService.RUN, "call-" + i + " 800"));
					}
					awaitEntered(work, 3);
					InFlightCalls calls = context.getBean(InFlightCalls.class);
					assertThat(calls.inFlightCount()).hasValue(3);
					assertThat(calls.inFlight()).hasSize(3).allSatisfy((call) -> {
						assertThat(call.description()).isEqualTo("grpc test.Work/Run");
						assertThat(call.thread()).as("the thread running the handler").isNotNull();
					});

					ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
					GrpcServerLifecycle server = context.getBean(GrpcServerLifecycle.class);
					long start = System.nanoTime();
					Thread closer = close(context);
					for (int i = 1; i <= 3; i++) {
						assertThat(answers.get(i - 1)).succeedsWithin(WAIT).isEqualTo("done call-" + i);
					}
					closer.join(WAIT.toMillis());
					Duration closing = Duration.ofNanos(System.nanoTime() - start);

					assertThat(coordinator.whenFinished()).succeedsWithin(WAIT).isEqualTo(ShutdownState.COMPLETED);
					assertThat(closing).as("closing: the calls' 800 ms, not Spring gRPC's 30 s grace period")
						.isLessThan(Duration.ofSeconds(5));
					assertThat(output).contains("Draining 3 calls, 0 jobs within 10.00 s")
						.contains("Graceful shutdown COMPLETED in ")
						.contains(": 3 calls drained, 0 jobs stopped, 0 stragglers")
						.doesNotContain("Completed gRPC server shutdown");
					assertThat(server.isRunning()).isFalse();

					// The listening socket is closed: a new call is refused, never run.
					assertThat(WorkService.call(channel, WorkService.RUN, "late 10")).failsWithin(WAIT)
						.withThrowableThat()
						.havingCause()
						.isInstanceOfSatisfying(StatusRuntimeException.class,
								(ex) -> assertThat(ex.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
					assertThat(work.entered).containsExactlyInAnyOrder("call-1", "call-2", "call-3");
					assertThat(calls.inFlight()).isEmpty();
					assertThat(calls.completedCount()).hasValue(3);
				}
				finally {
					channel.shutdownNow();
				}
			});
	}

	@Test
	void aServerStreamingCallIsInFlightUntilItsStreamEndsThoughItsHandlerReturnedAtOnce(CapturedOutput output) {
		WorkService work = new WorkService(true);
		this.runner.withBean(BindableService.class, () -> work).run((context) -> {
			ManagedChannel channel = channel(context);
			try {
				CompletableFuture<String> answer = WorkService.call(channel, WorkService.STREAM, "stream-1 900");
				awaitEntered(work, 1);
				InFlightCalls calls = context.getBean(InFlightCalls.class);
				// The handler returned at once and answers from a thread of its own.
				InFlight call = awaitInFlight(calls, (listed) -> listed.size() == 1 && listed.get(0).thread() == null)
					.get(0);
				assertThat(call.description()).isEqualTo("grpc test.Work/Stream");
				assertThat(work.returned).isEmpty();

				ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
				Thread closer = close(context);
				assertThat(answer).succeedsWithin(WAIT).isEqualTo("stream-1 part 1, stream-1 part 2, stream-1 part 3");
				closer.join(WAIT.toMillis());
				assertThat(coordinator.whenFinished()).succeedsWithin(WAIT)
					.isEqualTo(ShutdownState.COMPLETED);
				assertThat(output).contains(": 1 call drained, 0 jobs stopped, 0 stragglers");
			}
			finally {
				channel.shutdownNow();
			}
		});
	}

	@Test
	void aCallPastTheDeadlineIsNamedCancelledAndListedUntilItsHandlerReallyReturns(CapturedOutput output) {
		// A handler that works on through interrupts and cancellation, as blocking code does.
		WorkService work = new WorkService(false);
		this.runner.withBean(BindableService.class, () -> work)
			.withPropertyValues("spring.lifecycle.timeout-per-shutdown-phase=1s")
			.run((context) -> {
				ManagedChannel channel = channel(context);
				try {
					CompletableFuture<String> answer = WorkService.call(channel, WorkService.RUN, "long-1 3000");
					awaitEntered(work, 1);
					InFlightCalls calls = context.getBean(InFlightCalls.class);
					Thread handler = calls.inFlight().get(0).thread();
					assertThat(handler).isNotNull();

					ShutdownCoordinator coordinator = context.getBean(ShutdownCoordinator.class);
					Thread closer = close(context);
					// Cut at the deadline: the client is told, it does not wait for the handler.
					assertThat(answer).failsWithin(WAIT)
						.withThrowableThat()
						.havingCause()
						.isInstanceOfSatisfying(StatusRuntimeException.class,
								(ex) -> assertThat(ex.getStatus().getCode()).isIn(Status.Code.UNAVAILABLE,
										Status.Code.CANCELLED));
					// The handler still runs: the call is still listed, with its thread.
					assertThat(work.returned).isEmpty();
					assertThat(calls.inFlight()).singleElement().satisfies((call) -> {
						assertThat(call.description()).isEqualTo("grpc test.Work/Run");
						assertThat(call.thread()).isSameAs(handler);
					});
					closer.join(WAIT.toMillis());

					assertThat(coordinator.whenFinished()).succeedsWithin(WAIT).isEqualTo(ShutdownState.TIMED_OUT);
					assertThat(coordinator.stragglers()).singleElement().satisfies((straggler) -> {
						assertThat(straggler.description()).isEqualTo("grpc test.Work/Run");
						assertThat(straggler.thread()).isEqualTo(handler.getName());
					});
					assertThat(output).contains("Shutdown deadline of 1.00 s passed with 1 straggler")
						.contains("  grpc test.Work/Run, running for ")
						.contains(", on thread " + handler.getName())
						.contains("Graceful shutdown TIMED_OUT in ")
						.contains("0 calls drained, 0 jobs stopped, 1 straggler (grpc test.Work/Run); "
								+ "still running as the context closed: 1 call (grpc test.Work/Run)");

					// Once the handler returns, gRPC reports the call's end.
					assertThat(work.returned.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo("long-1 done");
					awaitInFlight(calls, List::isEmpty);
					assertThat(calls.completedCount()).hasValue(1);
				}
				finally {
					channel.shutdownNow();
				}
			});
	}

	@Test
	void aCallThatReachesAServerWhoseCallsHaveDrainedIsClosedUnavailableWithoutRunning() throws Exception {
		InFlightCalls calls = new InFlightCalls();
		WorkService work = new WorkService(true);
		ServerBuilder<?> builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
				InsecureServerCredentials.create());
		calls.intercept(builder);
		// Not announced as started: the drain does not shut this server down.
		Server server = builder.addService(work).build().start();
		ManagedChannel channel = Grpc
			.newChannelBuilder("127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort(),
					InsecureChannelCredentials.create())
			.build();
		try {
			assertThat(WorkService.call(channel, WorkService.RUN, "before 10")).succeedsWithin(WAIT)
				.isEqualTo("done before");
			assertThat(calls.drain().toCompletableFuture()).succeedsWithin(WAIT);
			assertThat(WorkService.call(channel, WorkService.RUN, "after 10")).failsWithin(WAIT)
				.withThrowableThat()
				.havingCause()
				.isInstanceOfSatisfying(StatusRuntimeException.class, (ex) -> {
					assertThat(ex.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
					assertThat(ex.getStatus().getDescription()).isEqualTo(InFlightCalls.REFUSED);
				});
			assertThat(work.entered).containsExactly("before");
			assertThat(calls.refusedCount()).isOne();
			assertThat(calls.completedCount()).hasValue(1);
		}
		finally {
			channel.shutdownNow();
			server.shutdownNow();
		}
	}

	@Test
	void aServerBuiltWithoutTheCustomizersIsSaidToBeUncountedAndLeftToItsOwnLifecycle(CapturedOutput output) {
		this.runner.withBean(BindableService.class, () -> new WorkService(true))
			.withUserConfiguration(OwnServerConfiguration.class)
			.run((context) -> {
				assertThat(context).hasSingleBean(InFlightCalls.class).hasSingleBean(GrpcServerLifecycle.class);
				GrpcServerLifecycle server = context.getBean(GrpcServerLifecycle.class);
				assertThat(output).contains("The gRPC server on port " + server.getPort()
						+ " was not built with Spring gRPC's ServerBuilderCustomizer beans: its calls are not counted, "
						+ "and it is stopped by its own lifecycle, after the shutdown sequence, with "
						+ "spring.grpc.server.shutdown.grace-period of its own");
				context.close();
				assertThat(server.isRunning()).isFalse();
				// Our drain did not touch it: Spring gRPC's own stop did, after the sequence.
				assertThat(output.toString().indexOf("Completed gRPC server shutdown"))
					.isGreaterThan(output.toString().indexOf("Graceful shutdown COMPLETED"));
			});
	}

	@Test
	void grpcHealthSaysNotServingWhileReadinessRefusesTrafficForTheServerAndEachService() {
		this.runner.withBean(BindableService.class, () -> new WorkService(true)).run((context) -> {
			ManagedChannel channel = channel(context);
			try {
				HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel)
					.withDeadlineAfter(10, TimeUnit.SECONDS);
				assertThat(status(health, "")).isEqualTo(ServingStatus.SERVING);

				AvailabilityChangeEvent.publish(context, ReadinessState.REFUSING_TRAFFIC);
				assertThat(status(health, "")).isEqualTo(ServingStatus.NOT_SERVING);
				assertThat(status(health, WorkService.SERVICE)).isEqualTo(ServingStatus.NOT_SERVING);
				assertThat(status(health, HealthGrpc.SERVICE_NAME)).isEqualTo(ServingStatus.NOT_SERVING);

				AvailabilityChangeEvent.publish(context, ReadinessState.ACCEPTING_TRAFFIC);
				assertThat(status(health, "")).isEqualTo(ServingStatus.SERVING);
				assertThat(status(health, WorkService.SERVICE)).isEqualTo(ServingStatus.SERVING);
			}
			finally {
				channel.shutdownNow();
			}
		});
	}

	@Configuration(proxyBeanMethods = false)
	static class OwnServerConfiguration {

		@Bean
		NettyGrpcServerFactory ownGrpcServerFactory() {
			// No customizers: what a factory of the application's own may look like.
			return new NettyGrpcServerFactory("127.0.0.1:0", List.of(), null, null, null);
		}

		@Bean
		GrpcServerLifecycle ownGrpcServerLifecycle(NettyGrpcServerFactory ownGrpcServerFactory,
				ApplicationEventPublisher publisher) {
			return new GrpcServerLifecycle(ownGrpcServerFactory, Duration.ofMillis(100), publisher);
		}

	}

	private static ServingStatus status(HealthGrpc.HealthBlockingStub health, String service) {
		return health.check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
	}

	private static ManagedChannel channel(AssertableApplicationContext context) {
		int port = context.getBean(GrpcServerLifecycle.class).getPort();
		return Grpc.newChannelBuilder("127.0.0.1:" + port, InsecureChannelCredentials.create()).build();
	}

	private static Thread close(AssertableApplicationContext context) {
		Thread closer = new Thread(context::close, "test-context-close");
		closer.start();
		return closer;
	}

	private static void awaitEntered(WorkService work, int count) throws InterruptedException {
		long deadline = System.nanoTime() + WAIT.toNanos();
		while (work.entered.size() < count) {
			assertThat(System.nanoTime() - deadline).as("%d calls entered in time", count).isNegative();
			Thread.sleep(10);
		}
	}

	private static List<InFlight> awaitInFlight(InFlightCalls calls,
			java.util.function.Predicate<List<InFlight>> condition) throws InterruptedException {
		long deadline = System.nanoTime() + WAIT.toNanos();
		List<InFlight> listed;
		while (!condition.test(listed = calls.inFlight())) {
			assertThat(System.nanoTime() - deadline).as("calls in flight in time: %s", listed).isNegative();
			Thread.sleep(10);
		}
		return listed;
	}

}
