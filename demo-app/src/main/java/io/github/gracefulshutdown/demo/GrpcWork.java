package io.github.gracefulshutdown.demo;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import io.grpc.BindableService;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.convert.DurationStyle;
import org.springframework.context.annotation.Profile;
import org.springframework.stereotype.Component;

/**
 * A gRPC service, with the {@code grpc} profile: {@code demo.Work/Run} takes a call id and,
 * optionally, how long to work ({@code "call-7"} or {@code "call-7 1500ms"}; by default
 * {@code demo.grpc.work}), journals the call's start and end under the job {@code grpc},
 * and answers {@code "done call-7"}. Defined by hand, with UTF-8 strings for messages, so
 * the build needs no code generation; any gRPC client can call it with the same method
 * descriptor, {@link #RUN}.
 */
@Component
@Profile("grpc")
public class GrpcWork implements BindableService {

	/** The journal's job name for the calls. */
	public static final String JOB = "grpc";

	/** UTF-8 strings as gRPC messages. */
	public static final MethodDescriptor.Marshaller<String> UTF8 = new MethodDescriptor.Marshaller<>() {

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

	/** {@code demo.Work/Run}: a call id and an optional duration in, {@code "done <id>"} out. */
	public static final MethodDescriptor<String, String> RUN = MethodDescriptor.<String, String>newBuilder()
		.setType(MethodDescriptor.MethodType.UNARY)
		.setFullMethodName(MethodDescriptor.generateFullMethodName("demo.Work", "Run"))
		.setRequestMarshaller(UTF8)
		.setResponseMarshaller(UTF8)
		.build();

	private final Journal journal;

	private final Duration work;

	GrpcWork(Journal journal, @Value("${demo.grpc.work:2s}") Duration work) {
		this.journal = journal;
		this.work = work;
	}

	@Override
	public ServerServiceDefinition bindService() {
		return ServerServiceDefinition.builder("demo.Work")
			.addMethod(RUN, ServerCalls.asyncUnaryCall(this::run))
			.build();
	}

	private void run(String request, StreamObserver<String> response) {
		String[] fields = request.strip().split("\\s+", 2);
		String id = fields[0];
		Duration duration = (fields.length > 1) ? DurationStyle.detectAndParse(fields[1]) : this.work;
		this.journal.start(JOB, id);
		if (Work.perform(duration)) {
			this.journal.end(JOB, id);
			response.onNext("done " + id);
			response.onCompleted();
			return;
		}
		// Interrupted at the deadline, when the call was cancelled and its client told so.
		// The journal's file channel would refuse to write on an interrupted thread.
		boolean interrupted = Thread.interrupted();
		this.journal.cut(JOB, id);
		if (interrupted) {
			Thread.currentThread().interrupt();
		}
		response.onError(Status.ABORTED.withDescription("cut at shutdown: " + id).asRuntimeException());
	}

}
