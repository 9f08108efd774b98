package io.github.gracefulshutdown.grpc;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.grpc.BindableService;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;

/**
 * A gRPC service defined by hand, with strings for messages, so the tests need no code
 * generation: {@code test.Work/Run} works for the milliseconds its request names, and
 * {@code test.Work/Stream} returns at once and answers from a thread of its own.
 */
final class WorkService implements BindableService {

	static final String SERVICE = "test.Work";

	static final MethodDescriptor.Marshaller<String> UTF8 = new MethodDescriptor.Marshaller<>() {

		@Override
		public InputStream stream(String value) {
			return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
		}

		@Override
		public String parse(InputStream stream) {
			try {
				return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
			}
			catch (IOException ex) {
				throw new UncheckedIOException(ex);
			}
		}

	};

	/** Request {@code "<id> <millis>"}; answers {@code "done <id>"}. */
	static final MethodDescriptor<String, String> RUN = method(MethodDescriptor.MethodType.UNARY, "Run");

	/** Request {@code "<id> <millis>"}: three answers, spread over the milliseconds. */
	static final MethodDescriptor<String, String> STREAM = method(MethodDescriptor.MethodType.SERVER_STREAMING,
			"Stream");

	/** The ids of the calls whose handler has begun, in order. */
	final BlockingQueue<String> entered = new LinkedBlockingQueue<>();

	/** The ids of the calls whose handler has returned, and how: {@code "<id> done|interrupted"}. */
	final BlockingQueue<String> returned = new LinkedBlockingQueue<>();

	private final boolean interruptible;

	/**
	 * @param interruptible whether {@code Run} stops working when its thread is
	 * interrupted, or works on regardless, as code that ignores interrupts does
	 */
	WorkService(boolean interruptible) {
		this.interruptible = interruptible;
	}

	@Override
	public ServerServiceDefinition bindService() {
		return ServerServiceDefinition.builder(SERVICE)
			.addMethod(RUN, ServerCalls.asyncUnaryCall(this::run))
			.addMethod(STREAM, ServerCalls.asyncServerStreamingCall(this::stream))
			.build();
	}

	private void run(String request, StreamObserver<String> response) {
		String[] fields = request.split(" ");
		this.entered.add(fields[0]);
		boolean completed = work(Duration.ofMillis(Long.parseLong(fields[1])));
		this.returned.add(fields[0] + (completed ? " done" : " interrupted"));
		if (completed) {
			response.onNext("done " + fields[0]);
			response.onCompleted();
		}
		else {
			response.onError(Status.ABORTED.withDescription("interrupted").asRuntimeException());
		}
	}

	private void stream(String request, StreamObserver<String> response) {
		String[] fields = request.split(" ");
		this.entered.add(fields[0]);
		long step = Long.parseLong(fields[1]) / 3;
		Thread answering = new Thread(() -> {
			for (int i = 1; i <= 3; i++) {
				work(Duration.ofMillis(step));
				response.onNext(fields[0] + " part " + i);
			}
			response.onCompleted();
			this.returned.add(fields[0] + " done");
		}, "test-stream-" + fields[0]);
		answering.start();
	}

	private boolean work(Duration duration) {
		long end = System.nanoTime() + duration.toNanos();
		boolean interrupted = false;
		long left;
		while ((left = end - System.nanoTime()) > 0) {
			try {
				TimeUnit.NANOSECONDS.sleep(left);
			}
			catch (InterruptedException ex) {
				if (this.interruptible) {
					Thread.currentThread().interrupt();
					return false;
				}
				interrupted = true;
			}
		}
		if (interrupted) {
			Thread.currentThread().interrupt();
		}
		return true;
	}

	/**
	 * Starts a unary call.
	 * @return the answer, or the call's failure (a {@code StatusRuntimeException})
	 */
	static CompletableFuture<String> call(Channel channel, MethodDescriptor<String, String> method, String request) {
		CompletableFuture<String> answer = new CompletableFuture<>();
		StringBuilder answers = new StringBuilder();
		ClientCalls.asyncServerStreamingCall(channel.newCall(method, CallOptions.DEFAULT.withDeadlineAfter(30,
				TimeUnit.SECONDS)), request, new StreamObserver<>() {

					@Override
					public void onNext(String value) {
						answers.append((answers.length() > 0) ? ", " : "").append(value);
					}

					@Override
					public void onError(Throwable failure) {
						answer.completeExceptionally(failure);
					}

					@Override
					public void onCompleted() {
						answer.complete(answers.toString());
					}

				});
		return answer;
	}

	private static MethodDescriptor<String, String> method(MethodDescriptor.MethodType type, String name) {
		return MethodDescriptor.<String, String>newBuilder()
			.setType(type)
			.setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, name))
			.setRequestMarshaller(UTF8)
			.setResponseMarshaller(UTF8)
			.build();
	}

}
