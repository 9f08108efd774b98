package io.github.gracefulshutdown.grpc;

import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.core.InFlightTracker;
import io.github.gracefulshutdown.core.Units;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.context.ApplicationListener;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;
import org.springframework.grpc.server.lifecycle.GrpcServerStartedEvent;

/**
 * The gRPC servers of Spring gRPC as a participant of the one shutdown: a server-wide
 * interceptor counts the calls in flight, and the drain sends GOAWAY and completes on the
 * last call's end.
 * <p>
 * A call is counted from the moment the server hands it to the interceptors until gRPC
 * reports it over, with {@code onComplete} (its status was sent) or {@code onCancel},
 * not when a handler method returns: a server-streaming or asynchronous handler returns
 * at once and keeps its call open. gRPC runs a call's callbacks one at a time, so the
 * end of a call that was cancelled while its handler still runs is reported only once
 * the handler returns: until then the call is listed as in flight, with the thread
 * running it.
 * <p>
 * When draining starts, {@link Server#shutdown()} on every counted server: GOAWAY on
 * every connection and the listening socket closed, so clients open no new calls here
 * and calls in flight go on. A call that still reaches a server once its calls have
 * drained is closed with {@code UNAVAILABLE} without being run. At the deadline,
 * {@link Server#shutdownNow()} cancels what is left; the calls are named before that, by
 * full method name ({@code grpc demo.Work/Run}) with the thread running each.
 * <p>
 * Once shut down, a server's own {@link GrpcServerLifecycle} says it is not running, so
 * Spring's lifecycle processor, later, does not stop it a second time: no grace period
 * of its own ({@code spring.grpc.server.shutdown.grace-period}) is added to the
 * deadline. A server built without Spring gRPC's {@code ServerBuilderCustomizer} beans
 * (a {@code GrpcServerFactory} of the application's own that does not apply them) has
 * no counted calls: it is left to its own lifecycle, and said so at startup.
 */
public final class InFlightCalls implements ServerInterceptor, ShutdownParticipant,
		ApplicationListener<GrpcServerStartedEvent> {

	/** What a call that reaches a server once its calls have drained is told. */
	static final String REFUSED = "The server is shutting down; the call was not run";

	private static final Log logger = LogFactory.getLog(InFlightCalls.class);

	private final InFlightTracker<Call> calls = new InFlightTracker<>();

	// The servers whose builder got this interceptor: the ones drained here.
	private final List<Server> servers = new CopyOnWriteArrayList<>();

	// Builders that got this interceptor and whose server has not started yet: a server
	// is built and started, and its start announced, one after the other.
	private final AtomicInteger builtWithInterceptor = new AtomicInteger();

	private final LongAdder refused = new LongAdder();

	private final AtomicBoolean refusing = new AtomicBoolean();

	/**
	 * Installs this interceptor on a server that is being built, before every
	 * per-service interceptor, so that it sees each call first and its end last.
	 * @param builder the builder of a server whose calls to count
	 */
	public void intercept(ServerBuilder<?> builder) {
		builder.intercept(this);
		this.builtWithInterceptor.incrementAndGet();
	}

	/**
	 * Counts a call until gRPC reports it over. A call that arrives once the calls have
	 * drained is closed with {@code UNAVAILABLE} instead of being run.
	 */
	@Override
	public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
			ServerCallHandler<ReqT, RespT> next) {
		Call inFlight = new Call(call.getMethodDescriptor().getFullMethodName());
		// Counted before checking, so a call either holds the drain open or sees it done.
		if (!this.calls.begin(inFlight)) {
			refuse(call);
			return new ServerCall.Listener<>() {
			};
		}
		ServerCall.Listener<ReqT> listener;
		try {
			listener = next.startCall(call, headers);
		}
		catch (RuntimeException | Error ex) {
			// gRPC closes a call whose start failed and reports its end to no listener.
			inFlight.end();
			throw ex;
		}
		inFlight.leave();
		return new CountedListener<>(listener, inFlight);
	}

	private void refuse(ServerCall<?, ?> call) {
		if (this.refusing.compareAndSet(false, true)) {
			// Once, not per call: clients may keep calling on connections opened before.
			logger.info("gRPC calls have drained; closing calls that still arrive with UNAVAILABLE (first: "
					+ call.getMethodDescriptor().getFullMethodName() + ")");
		}
		this.refused.increment();
		call.close(Status.UNAVAILABLE.withDescription(REFUSED), new Metadata());
	}

	/**
	 * Takes the server as one to drain, if it was built with this interceptor.
	 */
	@Override
	public void onApplicationEvent(GrpcServerStartedEvent event) {
		Server server = event.getServer();
		if (this.builtWithInterceptor.getAndUpdate((built) -> Math.max(0, built - 1)) > 0) {
			this.servers.removeIf(Server::isTerminated);
			this.servers.add(server);
			return;
		}
		logger.warn("The gRPC server on port " + event.getPort() + " was not built with Spring gRPC's "
				+ "ServerBuilderCustomizer beans: its calls are not counted, and it is stopped by its own lifecycle, "
				+ "after the shutdown sequence, with spring.grpc.server.shutdown.grace-period of its own");
	}

	// ---- ShutdownParticipant --------------------------------------------------------

	@Override
	public String name() {
		return Units.CALL;
	}

	/**
	 * Sends GOAWAY on every connection of every counted server and closes their listening
	 * sockets, and completes on the end of the last call in flight (at once if there is
	 * none).
	 */
	@Override
	public CompletionStage<?> drain() {
		CompletableFuture<Void> callsEnded = this.calls.drain();
		for (Server server : this.servers) {
			server.shutdown();
		}
		if (logger.isDebugEnabled() && !this.servers.isEmpty()) {
			logger.debug("gRPC " + ports() + " stopped taking new calls (GOAWAY); " + this.calls.activeCount()
					+ " in flight");
		}
		return callsEnded;
	}

	@Override
	public OptionalLong inFlightCount() {
		return OptionalLong.of(this.calls.activeCount());
	}

	@Override
	public OptionalLong completedCount() {
		return OptionalLong.of(this.calls.completedCount());
	}

	/**
	 * Returns the calls in flight, oldest first, each named by its full method name. A
	 * call names the thread running one of its callbacks now, or none while it waits (a
	 * streaming handler that answers from elsewhere).
	 */
	@Override
	public List<InFlight> inFlight() {
		return this.calls.active()
			.stream()
			.map((call) -> new InFlight("grpc " + call.method, call.startedAt(), call.thread()))
			.toList();
	}

	/**
	 * Refuses every later call, names the calls still in flight, then cancels them:
	 * {@code shutdownNow()} on every counted server. A cancelled call stays listed until
	 * gRPC reports its end, once its handler has returned.
	 */
	@Override
	public List<InFlight> deadlinePassed() {
		this.calls.close();
		List<InFlight> left = inFlight();
		for (Server server : this.servers) {
			server.shutdownNow();
		}
		return left;
	}

	/**
	 * How many calls arrived after the calls had drained and were closed with
	 * {@code UNAVAILABLE}.
	 */
	long refusedCount() {
		return this.refused.sum();
	}

	private String ports() {
		List<String> ports = this.servers.stream().map((server) -> String.valueOf(server.getPort())).toList();
		return ((ports.size() == 1) ? "server on port " : "servers on ports ") + String.join(", ", ports);
	}

	/**
	 * One call in flight.
	 */
	private static final class Call extends InFlightTracker.Entry {

		private final String method;

		Call(String method) {
			super(Thread.currentThread());
			this.method = method;
		}

		void enter() {
			runOn(Thread.currentThread());
		}

		void leave() {
			runOn(null);
		}

		void end() {
			end(Boolean.TRUE);
		}

	}

	/**
	 * Binds the call to the thread running each callback, and ends it when gRPC reports
	 * it over.
	 */
	private static final class CountedListener<ReqT> extends SimpleForwardingServerCallListener<ReqT> {

		private final Call call;

		CountedListener(ServerCall.Listener<ReqT> delegate, Call call) {
			super(delegate);
			this.call = call;
		}

		@Override
		public void onMessage(ReqT message) {
			this.call.enter();
			try {
				super.onMessage(message);
			}
			finally {
				this.call.leave();
			}
		}

		@Override
		public void onHalfClose() {
			this.call.enter();
			try {
				super.onHalfClose();
			}
			finally {
				this.call.leave();
			}
		}

		@Override
		public void onReady() {
			this.call.enter();
			try {
				super.onReady();
			}
			finally {
				this.call.leave();
			}
		}

		@Override
		public void onCancel() {
			this.call.enter();
			try {
				super.onCancel();
			}
			finally {
				this.call.end();
			}
		}

		@Override
		public void onComplete() {
			this.call.enter();
			try {
				super.onComplete();
			}
			finally {
				this.call.end();
			}
		}

	}

}
