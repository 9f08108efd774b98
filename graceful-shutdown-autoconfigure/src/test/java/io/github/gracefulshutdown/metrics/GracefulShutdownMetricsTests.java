package io.github.gracefulshutdown.metrics;

import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.TrackedJob;
import io.github.gracefulshutdown.core.CancellableToken;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.JobKind;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.web.ReactiveInFlightRequests;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.observation.DefaultMeterObservationHandler;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

import org.springframework.context.support.StaticApplicationContext;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.http.server.reactive.MockServerHttpResponse;

import static org.assertj.core.api.Assertions.assertThat;

class GracefulShutdownMetricsTests {

	private final CancellableToken token = new CancellableToken();

	private final DefaultJobRegistry registry = new DefaultJobRegistry(this.token);

	private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

	@Test
	void gaugesFollowTheJobsAndTheState() throws Exception {
		ShutdownCoordinator coordinator = coordinator(Duration.ofSeconds(10));
		new GracefulShutdownMetrics(coordinator, this.registry).bindTo(this.meters);
		TrackedJob job = this.registry.begin("import", JobKind.ASYNC);
		this.registry.begin("sync", JobKind.BACKGROUND).close();
		assertThat(this.meters.get("graceful.shutdown.jobs.active").tag("kind", "ASYNC").gauge().value()).isEqualTo(1);
		assertThat(this.meters.get("graceful.shutdown.jobs.active").tag("kind", "BACKGROUND").gauge().value()).isZero();
		assertThat(this.meters.get("graceful.shutdown.state").gauge().value()).isZero();
		assertThat(this.meters.find("graceful.shutdown.requests.active").gauge()).as("no web server").isNull();
		job.close();
		coordinator.stop();
		assertThat(this.meters.get("graceful.shutdown.state").gauge().value()).isEqualTo(3);
		assertThat(this.meters.get("graceful.shutdown.duration").tag("outcome", "completed").timer().count())
			.isEqualTo(1);
		assertThat(this.meters.get("graceful.shutdown.stragglers").counter().count()).isZero();
	}

	@Test
	void aConsumerThatCountsOnlyOnceItsContainersExistHasItsGaugeFromTheStart() {
		AtomicLong inFlight = new AtomicLong(-1);
		ShutdownParticipant consumer = new ShutdownParticipant() {

			@Override
			public String name() {
				return "message";
			}

			@Override
			public CompletionStage<?> drain() {
				return CompletableFuture.completedFuture(null);
			}

			@Override
			public OptionalLong inFlightCount() {
				return (inFlight.get() < 0) ? OptionalLong.empty() : OptionalLong.of(inFlight.get());
			}

			@Override
			public List<InFlight> inFlight() {
				return List.of();
			}

		};
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, List.of(consumer),
				new ShutdownCoordinator.Settings(Duration.ZERO, Duration.ofSeconds(10), Duration.ofSeconds(1), true));
		new GracefulShutdownMetrics(coordinator, this.registry).bindTo(this.meters);
		assertThat(this.meters.get("graceful.shutdown.messages.active").gauge().value()).isZero();
		inFlight.set(2);
		assertThat(this.meters.get("graceful.shutdown.messages.active").gauge().value()).isEqualTo(2);
		assertThat(this.meters.get("graceful.shutdown.messages.active").gauge().getId().getBaseUnit())
			.isEqualTo("messages");
	}

	@Test
	void reactiveRequestsHaveTheirGaugeBeforeTheHandlerIsBuilt() {
		ReactiveInFlightRequests requests = new ReactiveInFlightRequests(new StaticApplicationContext());
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, List.of(requests),
				new ShutdownCoordinator.Settings(Duration.ZERO, Duration.ofSeconds(10), Duration.ofSeconds(1), true));
		new GracefulShutdownMetrics(coordinator, this.registry).bindTo(this.meters);
		assertThat(this.meters.get("graceful.shutdown.requests.active").gauge().value()).isZero();
		requests.decorate((request, response) -> Mono.never())
			.handle(MockServerHttpRequest.get("/").build(), new MockServerHttpResponse())
			.subscribe();
		assertThat(this.meters.get("graceful.shutdown.requests.active").gauge().value()).isOne();
	}

	@Test
	void everyDocumentedMeterIsListedBeforeAnyShutdown() {
		ShutdownCoordinator coordinator = coordinator(Duration.ofSeconds(10));
		new GracefulShutdownMetrics(coordinator, this.registry).bindTo(this.meters);
		TrackedJob sync = this.registry.begin("ledger-sync", JobKind.BACKGROUND);
		assertThat(this.meters.getMeters()).extracting((meter) -> meter.getId().getName())
			.contains("graceful.shutdown.jobs.active", "graceful.shutdown.state", "graceful.shutdown.duration",
					"graceful.shutdown.stragglers", GracefulShutdownMetrics.BACKGROUND_RUNS);
		assertThat(this.meters.get("graceful.shutdown.duration").timers()).hasSize(2);
		Timer stopped = this.meters.get(GracefulShutdownMetrics.BACKGROUND_RUNS)
			.tags("job", "ledger-sync", "outcome", "stopped", "error", "none")
			.timer();
		assertThat(stopped.count()).isZero();
		// The meter registered ahead is the one Spring Boot's observation handler records
		// into: same name, same tags.
		ObservationRegistry observations = ObservationRegistry.create();
		observations.observationConfig().observationHandler(new DefaultMeterObservationHandler(this.meters));
		Observation.createNotStarted(GracefulShutdownMetrics.BACKGROUND_RUNS, observations)
			.lowCardinalityKeyValue("job", "ledger-sync")
			.start()
			.lowCardinalityKeyValue("outcome", "stopped")
			.stop();
		assertThat(stopped.count()).isOne();
		sync.close();
	}

	@Test
	void aTimedOutShutdownCountsItsStragglers() throws Exception {
		ShutdownCoordinator coordinator = coordinator(Duration.ofMillis(100));
		new GracefulShutdownMetrics(coordinator, this.registry).bindTo(this.meters);
		// Begun on a thread of their own: stragglers' threads are interrupted at the deadline.
		Thread beginner = new Thread(() -> {
			this.registry.begin("deaf");
			this.registry.begin("deaf");
		});
		beginner.start();
		beginner.join();
		coordinator.stop();
		assertThat(this.meters.get("graceful.shutdown.state").gauge().value()).isEqualTo(4);
		assertThat(this.meters.get("graceful.shutdown.stragglers").counter().count()).isEqualTo(2);
		assertThat(this.meters.get("graceful.shutdown.duration")
			.tag("outcome", "timed_out")
			.timer()
			.totalTime(TimeUnit.MILLISECONDS)).isGreaterThanOrEqualTo(100);
	}

	private ShutdownCoordinator coordinator(Duration timeout) {
		ShutdownCoordinator coordinator = new ShutdownCoordinator(this.token, this.registry, List.of(),
				new ShutdownCoordinator.Settings(Duration.ZERO, timeout, Duration.ofSeconds(10), true));
		coordinator.start();
		return coordinator;
	}

}
