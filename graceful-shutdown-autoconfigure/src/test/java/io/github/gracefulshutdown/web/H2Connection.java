package io.github.gracefulshutdown.web;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;

/**
 * A small HTTP/2 client over one socket to {@code 127.0.0.1}, so that a test sees the
 * frames a server sends: GOAWAY with its last stream id and error code, and which
 * streams got their headers and their whole body. No pooling, no retries, no hidden
 * reconnects: one instance is one TCP connection, opened with prior knowledge (h2c) or
 * over TLS with ALPN (h2).
 * <p>
 * It behaves as a client must: it acknowledges SETTINGS and PING (so that the server
 * measures a real round trip) and returns every DATA byte to the flow-control windows.
 * Header blocks are coded by Netty's HPACK coder, headers are not validated, so that a
 * header HTTP/2 forbids is seen rather than rejected.
 * <p>
 * One daemon thread reads the frames, and ends when the connection does; waiting for a
 * frame wakes on its arrival, and never polls.
 */
public final class H2Connection implements AutoCloseable {

	/** The largest stream id: the last stream id of a graceful GOAWAY. */
	public static final int MAX_STREAM_ID = Integer.MAX_VALUE;

	private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

	private static final int DATA = 0x0;

	private static final int HEADERS = 0x1;

	private static final int RST_STREAM = 0x3;

	private static final int SETTINGS = 0x4;

	private static final int PING = 0x6;

	private static final int GOAWAY = 0x7;

	private static final int WINDOW_UPDATE = 0x8;

	private static final int CONTINUATION = 0x9;

	private static final int END_STREAM = 0x1;

	private static final int ACK = 0x1;

	private static final int END_HEADERS = 0x4;

	private static final int PADDED = 0x8;

	private static final int PRIORITY = 0x20;

	private final Socket socket;

	private final String scheme;

	private final String authority;

	private final DataInputStream in;

	private final OutputStream out;

	private final DefaultHttp2HeadersEncoder encoder = new DefaultHttp2HeadersEncoder();

	private final DefaultHttp2HeadersDecoder decoder = new DefaultHttp2HeadersDecoder(false);

	private final Thread reader;

	// Guarded by this; notified on every frame and at the end of the connection.
	private final Map<Integer, StreamState> streams = new HashMap<>();

	private final List<GoAway> goAways = new ArrayList<>();

	private int nextStreamId = 1;

	private boolean ended;

	private String endedBy = "";

	private H2Connection(Socket socket, String scheme, int port) throws IOException {
		this.socket = socket;
		this.scheme = scheme;
		this.authority = "127.0.0.1:" + port;
		this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
		this.out = socket.getOutputStream();
		synchronized (this.out) {
			this.out.write(PREFACE);
			// SETTINGS_ENABLE_PUSH = 0: a client that takes no pushed streams.
			writeFrame(SETTINGS, 0, 0, new byte[] { 0, 2, 0, 0, 0, 0 });
			this.out.flush();
		}
		this.reader = new Thread(this::readFrames, "h2-reader-" + socket.getLocalPort());
		this.reader.setDaemon(true);
		this.reader.start();
	}

	/**
	 * Opens a cleartext HTTP/2 connection with prior knowledge (h2c, no Upgrade).
	 * @param port the server's port on {@code 127.0.0.1}
	 * @return the open connection
	 * @throws java.net.ConnectException if the connection is refused
	 */
	public static H2Connection cleartext(int port) throws IOException {
		Socket socket = new Socket();
		try {
			socket.setTcpNoDelay(true);
			socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
			return new H2Connection(socket, "http", port);
		}
		catch (IOException | RuntimeException ex) {
			socket.close();
			throw ex;
		}
	}

	/**
	 * Opens an HTTP/2 connection over TLS, negotiated with ALPN (h2).
	 * @param port the server's port on {@code 127.0.0.1}
	 * @param sslContext a context that trusts the server's certificate
	 * @return the open connection
	 * @throws IOException if the connection or the handshake fails, or the server does
	 * not choose h2
	 */
	public static H2Connection tls(int port, SSLContext sslContext) throws IOException {
		SSLSocket socket = (SSLSocket) sslContext.getSocketFactory().createSocket();
		try {
			socket.setTcpNoDelay(true);
			socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
			SSLParameters parameters = socket.getSSLParameters();
			parameters.setApplicationProtocols(new String[] { "h2" });
			socket.setSSLParameters(parameters);
			socket.startHandshake();
			if (!"h2".equals(socket.getApplicationProtocol())) {
				throw new IOException("The server chose '" + socket.getApplicationProtocol() + "' rather than h2");
			}
			return new H2Connection(socket, "https", port);
		}
		catch (IOException | RuntimeException ex) {
			socket.close();
			throw ex;
		}
	}

	/**
	 * Opens a stream with {@code GET <path>} (HEADERS with END_STREAM).
	 * @param path the path and query
	 * @return the stream id
	 */
	public int get(String path) throws IOException {
		Http2Headers headers = new DefaultHttp2Headers().method("GET")
			.scheme(this.scheme)
			.authority(this.authority)
			.path(path);
		synchronized (this.out) {
			int streamId;
			synchronized (this) {
				streamId = this.nextStreamId;
				this.nextStreamId += 2;
				this.streams.put(streamId, new StreamState());
			}
			ByteBuf block = Unpooled.buffer();
			try {
				// Coded under the write lock: HPACK's table follows the order on the wire.
				this.encoder.encodeHeaders(streamId, headers, block);
				byte[] bytes = new byte[block.readableBytes()];
				block.readBytes(bytes);
				writeFrame(HEADERS, END_HEADERS | END_STREAM, streamId, bytes);
				this.out.flush();
			}
			catch (Http2Exception ex) {
				throw new IOException(ex);
			}
			finally {
				block.release();
			}
			return streamId;
		}
	}

	/**
	 * Waits for the server's {@code n}th GOAWAY frame on this connection.
	 * @param n 1 for the first
	 * @param timeout the longest time to wait
	 * @return the frame
	 * @throws AssertionError if it does not come in time, or the connection ends first
	 */
	public GoAway awaitGoAway(int n, Duration timeout) throws InterruptedException {
		await(() -> this.goAways.size() >= n, "GOAWAY #" + n, timeout);
		synchronized (this) {
			return this.goAways.get(n - 1);
		}
	}

	/**
	 * Waits until the stream has ended: its last frame came with END_STREAM, the server
	 * reset it, or the connection ended.
	 * @param streamId the stream
	 * @param timeout the longest time to wait
	 * @return what the stream got
	 * @throws AssertionError if it does not end in time
	 */
	public Response awaitResponse(int streamId, Duration timeout) throws InterruptedException {
		await(() -> stream(streamId).ended || this.ended, "the end of stream " + streamId, timeout);
		return response(streamId);
	}

	/**
	 * Returns what the stream got so far.
	 * @param streamId the stream
	 * @return the response, possibly incomplete
	 */
	public synchronized Response response(int streamId) {
		StreamState stream = stream(streamId);
		Map<String, List<String>> headers = new TreeMap<>();
		stream.headers.forEach((name, values) -> headers.put(name, List.copyOf(values)));
		return new Response(streamId, headers, stream.body.toString(StandardCharsets.UTF_8), stream.ended,
				stream.resetCode);
	}

	/**
	 * Returns the GOAWAY frames received so far.
	 * @return the frames, in order
	 */
	public synchronized List<GoAway> goAways() {
		return List.copyOf(this.goAways);
	}

	/**
	 * Waits until the server has closed the connection.
	 * @param timeout the longest time to wait
	 * @return how it ended (end of stream or the read's exception)
	 * @throws AssertionError if it is still open after the timeout
	 */
	public String awaitEnd(Duration timeout) throws InterruptedException {
		await(() -> this.ended, "the end of the connection", timeout);
		synchronized (this) {
			return this.endedBy;
		}
	}

	private StreamState stream(int streamId) {
		StreamState stream = this.streams.get(streamId);
		if (stream == null) {
			throw new IllegalArgumentException("No stream " + streamId + " was opened");
		}
		return stream;
	}

	private synchronized void await(BooleanSupplier condition, String what, Duration timeout)
			throws InterruptedException {
		long deadline = System.nanoTime() + timeout.toNanos();
		while (!condition.getAsBoolean()) {
			long left = deadline - System.nanoTime();
			if (this.ended && !condition.getAsBoolean()) {
				throw new AssertionError("The connection ended (" + this.endedBy + ") before " + what + "; " + this);
			}
			if (left <= 0) {
				throw new AssertionError("No " + what + " within " + timeout + "; " + this);
			}
			TimeUnit.NANOSECONDS.timedWait(this, left);
		}
	}

	private void readFrames() {
		String endedBy;
		try {
			while (true) {
				int length = (this.in.readUnsignedByte() << 16) | this.in.readUnsignedShort();
				int type = this.in.readUnsignedByte();
				int flags = this.in.readUnsignedByte();
				int streamId = this.in.readInt() & MAX_STREAM_ID;
				byte[] payload = new byte[length];
				this.in.readFully(payload);
				onFrame(type, flags, streamId, payload);
			}
		}
		catch (EOFException ex) {
			endedBy = "closed by the server";
		}
		catch (IOException | RuntimeException ex) {
			endedBy = ex.toString();
		}
		synchronized (this) {
			this.ended = true;
			this.endedBy = endedBy;
			notifyAll();
		}
	}

	private void onFrame(int type, int flags, int streamId, byte[] payload) throws IOException {
		switch (type) {
			case SETTINGS -> {
				if ((flags & ACK) == 0) {
					writeAndFlush(SETTINGS, ACK, 0, new byte[0]);
				}
			}
			case PING -> {
				if ((flags & ACK) == 0) {
					writeAndFlush(PING, ACK, 0, payload);
				}
			}
			case HEADERS -> onHeaders(flags, streamId, payload);
			case DATA -> onData(flags, streamId, payload);
			case RST_STREAM -> {
				synchronized (this) {
					StreamState stream = this.streams.get(streamId);
					if (stream != null) {
						stream.resetCode = readInt(payload, 0) & 0xFFFFFFFFL;
						stream.ended = true;
					}
					notifyAll();
				}
			}
			case GOAWAY -> {
				GoAway goAway = new GoAway(readInt(payload, 0) & MAX_STREAM_ID, readInt(payload, 4) & 0xFFFFFFFFL,
						new String(payload, 8, payload.length - 8, StandardCharsets.UTF_8), System.nanoTime());
				synchronized (this) {
					this.goAways.add(goAway);
					notifyAll();
				}
			}
			default -> {
				// WINDOW_UPDATE, PRIORITY and the rest: nothing a test looks at.
			}
		}
	}

	private void onHeaders(int flags, int streamId, byte[] payload) throws IOException {
		int offset = 0;
		int padding = 0;
		if ((flags & PADDED) != 0) {
			padding = payload[0] & 0xFF;
			offset = 1;
		}
		if ((flags & PRIORITY) != 0) {
			offset += 5;
		}
		ByteArrayOutputStream block = new ByteArrayOutputStream();
		block.write(payload, offset, payload.length - offset - padding);
		int blockFlags = flags;
		while ((blockFlags & END_HEADERS) == 0) {
			// CONTINUATION frames follow at once, on the same stream (RFC 9113, 6.10).
			int length = (this.in.readUnsignedByte() << 16) | this.in.readUnsignedShort();
			int type = this.in.readUnsignedByte();
			blockFlags = this.in.readUnsignedByte();
			this.in.readInt();
			byte[] continuation = new byte[length];
			this.in.readFully(continuation);
			if (type != CONTINUATION) {
				throw new IOException("Frame type " + type + " in the middle of a header block");
			}
			block.write(continuation);
		}
		Http2Headers headers;
		try {
			headers = this.decoder.decodeHeaders(streamId, Unpooled.wrappedBuffer(block.toByteArray()));
		}
		catch (Http2Exception ex) {
			throw new IOException(ex);
		}
		synchronized (this) {
			StreamState stream = this.streams.get(streamId);
			if (stream != null) {
				headers.forEach((header) -> stream.headers
					.computeIfAbsent(header.getKey().toString(), (name) -> new ArrayList<>())
					.add(header.getValue().toString()));
				stream.ended |= (flags & END_STREAM) != 0;
			}
			notifyAll();
		}
	}

	private void onData(int flags, int streamId, byte[] payload) throws IOException {
		int offset = 0;
		int padding = 0;
		if ((flags & PADDED) != 0) {
			padding = payload[0] & 0xFF;
			offset = 1;
		}
		synchronized (this) {
			StreamState stream = this.streams.get(streamId);
			if (stream != null) {
				stream.body.write(payload, offset, payload.length - offset - padding);
				stream.ended |= (flags & END_STREAM) != 0;
			}
			notifyAll();
		}
		if (payload.length > 0) {
			// Every byte read goes back to the connection's window and the stream's.
			byte[] increment = new byte[4];
			writeInt(increment, payload.length);
			synchronized (this.out) {
				writeFrame(WINDOW_UPDATE, 0, 0, increment);
				if ((flags & END_STREAM) == 0) {
					writeFrame(WINDOW_UPDATE, 0, streamId, increment);
				}
				this.out.flush();
			}
		}
	}

	private void writeAndFlush(int type, int flags, int streamId, byte[] payload) throws IOException {
		synchronized (this.out) {
			writeFrame(type, flags, streamId, payload);
			this.out.flush();
		}
	}

	private void writeFrame(int type, int flags, int streamId, byte[] payload) throws IOException {
		byte[] header = new byte[9];
		header[0] = (byte) (payload.length >>> 16);
		header[1] = (byte) (payload.length >>> 8);
		header[2] = (byte) payload.length;
		header[3] = (byte) type;
		header[4] = (byte) flags;
		writeInt(header, 5, streamId);
		this.out.write(header);
		this.out.write(payload);
	}

	private static int readInt(byte[] bytes, int offset) {
		return ((bytes[offset] & 0xFF) << 24) | ((bytes[offset + 1] & 0xFF) << 16) | ((bytes[offset + 2] & 0xFF) << 8)
				| (bytes[offset + 3] & 0xFF);
	}

	private static void writeInt(byte[] bytes, int value) {
		writeInt(bytes, 0, value);
	}

	private static void writeInt(byte[] bytes, int offset, int value) {
		bytes[offset] = (byte) (value >>> 24);
		bytes[offset + 1] = (byte) (value >>> 16);
		bytes[offset + 2] = (byte) (value >>> 8);
		bytes[offset + 3] = (byte) value;
	}

	@Override
	public void close() throws IOException, InterruptedException {
		this.socket.close();
		this.reader.join(TimeUnit.SECONDS.toMillis(10));
	}

	@Override
	public synchronized String toString() {
		StringBuilder state = new StringBuilder("h2 connection ").append(this.socket.getLocalSocketAddress())
			.append(" -> ")
			.append(this.socket.getRemoteSocketAddress())
			.append(": GOAWAY ")
			.append(this.goAways);
		this.streams.forEach((id, stream) -> state.append(", stream ")
			.append(id)
			.append(stream.ended ? " ended" : " open")
			.append(stream.headers.isEmpty() ? " without headers" : " " + stream.headers)
			.append((stream.resetCode != null) ? " reset " + stream.resetCode : "")
			.append(" body ")
			.append(stream.body.size())
			.append(" bytes"));
		return state.append(this.ended ? ", ended: " + this.endedBy : "").toString();
	}

	private static final class StreamState {

		final Map<String, List<String>> headers = new TreeMap<>();

		final ByteArrayOutputStream body = new ByteArrayOutputStream();

		boolean ended;

		Long resetCode;

	}

	/**
	 * A GOAWAY frame.
	 * @param lastStreamId the last stream id the server processed or may still process
	 * @param errorCode the error code, {@code 0} (NO_ERROR) for a graceful one
	 * @param debugData the debug data, decoded as UTF-8
	 * @param receivedNanos when it arrived, on {@link System#nanoTime()}
	 */
	public record GoAway(int lastStreamId, long errorCode, String debugData, long receivedNanos) {

		@Override
		public String toString() {
			return "GOAWAY(last-stream-id=" + this.lastStreamId + ", error=" + this.errorCode
					+ (this.debugData.isEmpty() ? "" : ", '" + this.debugData + "'") + ")";
		}

	}

	/**
	 * What a stream got.
	 * @param streamId the stream
	 * @param headers the headers received (with {@code :status}), by lower-case name
	 * @param body the DATA received, decoded as UTF-8
	 * @param ended whether the stream ended (END_STREAM or a reset)
	 * @param resetCode the error code of the server's RST_STREAM, or {@code null}
	 */
	public record Response(int streamId, Map<String, List<String>> headers, String body, boolean ended,
			Long resetCode) {

		/**
		 * Whether the stream ended normally with the whole response: headers, then
		 * END_STREAM, and no reset.
		 * @return whether it is complete
		 */
		public boolean complete() {
			return this.ended && this.resetCode == null && !this.headers.isEmpty();
		}

		/**
		 * Returns the status.
		 * @return the {@code :status}, or -1 if no headers came
		 */
		public int status() {
			List<String> status = this.headers.get(":status");
			return (status == null) ? -1 : Integer.parseInt(status.get(0));
		}

	}

}
