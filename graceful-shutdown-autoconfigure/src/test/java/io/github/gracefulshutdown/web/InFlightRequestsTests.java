package io.github.gracefulshutdown.web;

import java.util.concurrent.CompletableFuture;

import io.github.gracefulshutdown.ShutdownParticipant;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.FilterChain;
import org.junit.jupiter.api.Test;

import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.support.StaticApplicationContext;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

import static org.assertj.core.api.Assertions.assertThat;

class InFlightRequestsTests {

	private final InFlightRequests requests = new InFlightRequests(new StaticApplicationContext());

	@Test
	void countsARequestWhileItsHandlerRunsWithItsThread() throws Exception {
		MockHttpServletRequest request = new MockHttpServletRequest("GET", "/orders");
		MockHttpServletResponse response = new MockHttpServletResponse();
		this.requests.doFilter(request, response, (req, res) -> {
			assertThat(this.requests.inFlightCount().getAsLong()).isOne();
			assertThat(this.requests.inFlight()).singleElement().satisfies((inFlight) -> {
				assertThat(inFlight.description()).isEqualTo("GET /orders");
				assertThat(inFlight.thread()).isSameAs(Thread.currentThread());
			});
			assertThat(this.requests.busyConnections()).containsExactly("127.0.0.1:80");
		});
		assertThat(this.requests.inFlightCount().getAsLong()).isZero();
		assertThat(this.requests.completedCount().getAsLong()).isOne();
		assertThat(response.getHeader("Connection")).as("no close while ready").isNull();
	}

	@Test
	void asksClientsToCloseConnectionsOnceReadinessIsRefused() throws Exception {
		this.requests.onApplicationEvent(new AvailabilityChangeEvent<>(this, ReadinessState.REFUSING_TRAFFIC));
		MockHttpServletResponse response = new MockHttpServletResponse();
		this.requests.doFilter(new MockHttpServletRequest("GET", "/"), response, (req, res) -> {
		});
		assertThat(response.getHeader("Connection")).isEqualTo("close");
	}

	@Test
	void aRequestInFlightWhenReadinessFlipsGetsTheHeaderIfNotCommittedYet() throws Exception {
		MockHttpServletResponse response = new MockHttpServletResponse();
		this.requests.doFilter(new MockHttpServletRequest("GET", "/slow"), response, (req, res) -> this.requests
			.onApplicationEvent(new AvailabilityChangeEvent<>(this, ReadinessState.REFUSING_TRAFFIC)));
		assertThat(response.getHeader("Connection")).isEqualTo("close");
	}

	@Test
	void aResponseCommittedBeforeReadinessFlipsIsLeftAlone() throws Exception {
		MockHttpServletResponse response = new MockHttpServletResponse();
		this.requests.doFilter(new MockHttpServletRequest("GET", "/stream"), response, (req, res) -> {
			res.flushBuffer();
			this.requests.onApplicationEvent(new AvailabilityChangeEvent<>(this, ReadinessState.REFUSING_TRAFFIC));
		});
		assertThat(response.getHeader("Connection")).isNull();
	}

	@Test
	void anAsyncRequestStaysCountedUntilItsContextCompletes() throws Exception {
		MockHttpServletRequest request = new MockHttpServletRequest("GET", "/events");
		request.setAsyncSupported(true);
		FilterChain startsAsync = (req, res) -> req.startAsync();
		this.requests.doFilter(request, new MockHttpServletResponse(), startsAsync);
		assertThat(this.requests.inFlightCount().getAsLong()).isOne();
		assertThat(this.requests.inFlight()).singleElement()
			.extracting(ShutdownParticipant.InFlight::thread)
			.as("no thread works on a parked async request")
			.isNull();
		CompletableFuture<?> drained = this.requests.drain().toCompletableFuture();
		assertThat(drained).isNotDone();
		AsyncContext context = request.getAsyncContext();
		context.complete();
		assertThat(drained).isCompleted();
		assertThat(this.requests.inFlightCount().getAsLong()).isZero();
	}

	@Test
	void atTheDeadlineAsyncRequestsAreCompleted() throws Exception {
		MockHttpServletRequest request = new MockHttpServletRequest("GET", "/events");
		request.setAsyncSupported(true);
		this.requests.doFilter(request, new MockHttpServletResponse(), (req, res) -> req.startAsync());
		CompletableFuture<?> drained = this.requests.drain().toCompletableFuture();
		assertThat(this.requests.deadlinePassed()).extracting(ShutdownParticipant.InFlight::description)
			.as("named as a straggler before it is ended")
			.containsExactly("GET /events");
		assertThat(drained).as("completed, but never sealed by a drain: the deadline closed it").isNotDone();
		assertThat(this.requests.inFlight()).isEmpty();
		MockHttpServletResponse late = new MockHttpServletResponse();
		this.requests.doFilter(new MockHttpServletRequest("GET", "/late"), late, (req, res) -> {
			throw new AssertionError("a request arriving after the deadline must not run");
		});
		assertThat(late.getStatus()).isEqualTo(503);
	}

	@Test
	void drainCompletesAtOnceWhenIdleAndOnTheLastRequestsEndOtherwise() throws Exception {
		assertThat(new InFlightRequests(new StaticApplicationContext()).drain().toCompletableFuture()).isCompleted();
		CompletableFuture<CompletableFuture<?>> drainedDuringRequest = new CompletableFuture<>();
		this.requests.doFilter(new MockHttpServletRequest("GET", "/slow"), new MockHttpServletResponse(),
				(req, res) -> {
					CompletableFuture<?> drained = this.requests.drain().toCompletableFuture();
					assertThat(drained).isNotDone();
					drainedDuringRequest.complete(drained);
				});
		assertThat(drainedDuringRequest.get()).isCompleted();
	}

	@Test
	void aRequestArrivingOnceDrainedIsRefusedWith503AndNeverRun() throws Exception {
		assertThat(this.requests.drain().toCompletableFuture()).isCompleted();
		MockHttpServletResponse response = new MockHttpServletResponse();
		this.requests.doFilter(new MockHttpServletRequest("POST", "/orders"), response, (req, res) -> {
			throw new AssertionError("a request arriving after the drain must not run");
		});
		assertThat(response.getStatus()).isEqualTo(503);
		assertThat(response.getHeader("Connection")).isEqualTo("close");
		assertThat(this.requests.inFlightCount().getAsLong()).isZero();
		assertThat(this.requests.refusedCount()).isOne();
		assertThat(this.requests.completedCount().getAsLong()).isZero();
	}

	@Test
	void aRequestArrivingWhileOthersDrainIsServed() throws Exception {
		CompletableFuture<Void> drained = new CompletableFuture<>();
		MockHttpServletResponse late = new MockHttpServletResponse();
		this.requests.doFilter(new MockHttpServletRequest("GET", "/slow"), new MockHttpServletResponse(),
				(req, res) -> {
					this.requests.drain().toCompletableFuture().thenRun(() -> drained.complete(null));
					// A request already on the wire when the drain began still runs.
					this.requests.doFilter(new MockHttpServletRequest("GET", "/hello"), late,
							(lateReq, lateRes) -> ((jakarta.servlet.http.HttpServletResponse) lateRes).setStatus(200));
					assertThat(drained).isNotDone();
				});
		assertThat(late.getStatus()).isEqualTo(200);
		assertThat(late.getHeader("Connection")).isEqualTo("close");
		assertThat(drained).isCompleted();
		assertThat(this.requests.refusedCount()).isZero();
	}

	@Test
	void completingTheStageDrainReturnsDoesNotRefuseRequests() throws Exception {
		MockHttpServletRequest request = new MockHttpServletRequest("GET", "/events");
		request.setAsyncSupported(true);
		this.requests.doFilter(request, new MockHttpServletResponse(), (req, res) -> req.startAsync());
		CompletableFuture<?> drained = this.requests.drain().toCompletableFuture();
		drained.complete(null);
		MockHttpServletResponse next = new MockHttpServletResponse();
		this.requests.doFilter(new MockHttpServletRequest("GET", "/hello"), next,
				(req, res) -> ((jakarta.servlet.http.HttpServletResponse) res).setStatus(200));
		assertThat(next.getStatus()).as("served: the requests have not drained").isEqualTo(200);
		request.getAsyncContext().complete();
		assertThat(this.requests.drain().toCompletableFuture()).isCompleted();
	}

}
