package io.github.gracefulshutdown.web;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A tiny HTTP/1.1 client over one {@link Socket} to {@code 127.0.0.1}, shared with the
 * demos' end-to-end tests through this module's test jar, so that a test
 * sees exactly what the server did to the connection: no pooling, no retries, no
 * hidden reconnects. One instance is one TCP connection; {@link #get} can be called
 * several times on it to exercise keep-alive.
 * <p>
 * Every read has the socket's read timeout, so a server that never answers fails the
 * call with a {@link SocketTimeoutException} instead of hanging the test.
 */
public final class RawHttp implements AutoCloseable {

	public static final String HOST = "127.0.0.1";

	private static final int MAX_LINE = 16 * 1024;

	private final Socket socket;

	private final InputStream in;

	private final OutputStream out;

	private int requests;

	private boolean closedByServer;

	private RawHttp(Socket socket) throws IOException {
		this.socket = socket;
		this.in = new BufferedInputStream(socket.getInputStream());
		this.out = socket.getOutputStream();
	}

	/**
	 * Opens a connection to {@code 127.0.0.1:port}.
	 * @param port the port
	 * @param connectTimeout the longest time to wait for the connection
	 * @param readTimeout the longest time any single read may block
	 * @return the open connection
	 * @throws ConnectException if the connection is refused
	 * @throws SocketTimeoutException if connecting takes longer than the timeout
	 */
	public static RawHttp connect(int port, Duration connectTimeout, Duration readTimeout) throws IOException {
		Socket socket = new Socket();
		try {
			socket.setTcpNoDelay(true);
			socket.setSoTimeout(Math.toIntExact(readTimeout.toMillis()));
			socket.connect(new InetSocketAddress(HOST, port), Math.toIntExact(connectTimeout.toMillis()));
			return new RawHttp(socket);
		}
		catch (IOException | RuntimeException ex) {
			socket.close();
			throw ex;
		}
	}

	/**
	 * Sends {@code GET <path> HTTP/1.1} on this connection and reads the whole response.
	 * @param path the path and query
	 * @return the response
	 * @throws EOFException if the server closed the connection before or while answering
	 * @throws SocketException if the connection was reset (or writing to it failed)
	 * @throws SocketTimeoutException if the server did not answer within the read timeout
	 */
	public Response get(String path) throws IOException {
		return send("GET " + path + " HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n");
	}

	/**
	 * Sends {@code POST <path> HTTP/1.1} with an empty body on this connection and reads
	 * the whole response.
	 * @param path the path and query
	 * @return the response
	 * @throws EOFException if the server closed the connection before or while answering
	 * @throws SocketException if the connection was reset (or writing to it failed)
	 * @throws SocketTimeoutException if the server did not answer within the read timeout
	 */
	public Response post(String path) throws IOException {
		return send("POST " + path + " HTTP/1.1\r\nHost: " + HOST + "\r\nContent-Length: 0\r\n\r\n");
	}

	/**
	 * Sends only the request line of a {@code GET}: the server has the request on the
	 * wire but cannot start it until {@link #finishGet()} sends the rest.
	 * @param path the path and query
	 * @throws SocketException if writing to the connection failed
	 */
	public void startGet(String path) throws IOException {
		this.out.write(("GET " + path + " HTTP/1.1\r\n").getBytes(StandardCharsets.US_ASCII));
		this.out.flush();
	}

	/**
	 * Sends the rest of the request begun by {@link #startGet(String)} and reads the
	 * whole response.
	 * @return the response
	 * @throws EOFException if the server closed the connection before or while answering
	 * @throws SocketException if the connection was reset (or writing to it failed)
	 * @throws SocketTimeoutException if the server did not answer within the read timeout
	 */
	public Response finishGet() throws IOException {
		return send("Host: " + HOST + "\r\n\r\n");
	}

	private Response send(String request) throws IOException {
		this.out.write(request.getBytes(StandardCharsets.US_ASCII));
		this.out.flush();
		this.requests++;
		Response response;
		do {
			response = readResponse();
		}
		// Interim responses (100 Continue and such) come before the real one.
		while (response.status() >= 100 && response.status() < 200);
		if (response.closesConnection()) {
			this.closedByServer = true;
		}
		return response;
	}

	/**
	 * Returns how many requests were sent on this connection.
	 * @return the count
	 */
	public int requests() {
		return this.requests;
	}

	/**
	 * Whether the last response said {@code Connection: close}.
	 * @return whether the server announced it closes the connection
	 */
	public boolean closedByServer() {
		return this.closedByServer;
	}

	/**
	 * Returns the local port of this connection, which the server sees as the client's
	 * port.
	 * @return the port
	 */
	public int localPort() {
		return this.socket.getLocalPort();
	}

	private Response readResponse() throws IOException {
		String statusLine = readLine(true);
		if (statusLine == null) {
			throw new EOFException("The server closed the connection before sending a status line (after "
					+ this.requests + " request(s) on this connection)");
		}
		String[] parts = statusLine.split(" ", 3);
		if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
			throw new IOException("Malformed status line: '" + statusLine + "'");
		}
		int status;
		try {
			status = Integer.parseInt(parts[1]);
		}
		catch (NumberFormatException ex) {
			throw new IOException("Malformed status line: '" + statusLine + "'");
		}
		String reason = (parts.length > 2) ? parts[2] : "";
		Map<String, List<String>> headers = readHeaders();
		Response head = new Response(parts[0], status, reason, headers, "");
		String body = readBody(head);
		return new Response(parts[0], status, reason, headers, body);
	}

	private Map<String, List<String>> readHeaders() throws IOException {
		Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
		String line;
		while (!(line = readLine(false)).isEmpty()) {
			int colon = line.indexOf(':');
			if (colon <= 0) {
				throw new IOException("Malformed header line: '" + line + "'");
			}
			headers.computeIfAbsent(line.substring(0, colon).trim(), (name) -> new ArrayList<>())
				.add(line.substring(colon + 1).trim());
		}
		headers.replaceAll((name, values) -> List.copyOf(values));
		return Collections.unmodifiableMap(headers);
	}

	private String readBody(Response head) throws IOException {
		int status = head.status();
		if (status < 200 || status == 204 || status == 304) {
			return "";
		}
		String transferEncoding = head.header("Transfer-Encoding");
		if (transferEncoding != null && transferEncoding.toLowerCase(Locale.ROOT).contains("chunked")) {
			return readChunked();
		}
		String contentLength = head.header("Content-Length");
		if (contentLength != null) {
			return new String(readExactly(Long.parseLong(contentLength.trim())), StandardCharsets.UTF_8);
		}
		// No length: the body ends where the connection does.
		this.closedByServer = true;
		return new String(this.in.readAllBytes(), StandardCharsets.UTF_8);
	}

	private String readChunked() throws IOException {
		ByteArrayOutputStream body = new ByteArrayOutputStream();
		while (true) {
			String sizeLine = readLine(false);
			int extension = sizeLine.indexOf(';');
			String hex = ((extension >= 0) ? sizeLine.substring(0, extension) : sizeLine).trim();
			long size;
			try {
				size = Long.parseLong(hex, 16);
			}
			catch (NumberFormatException ex) {
				throw new IOException("Malformed chunk size line: '" + sizeLine + "'");
			}
			if (size == 0) {
				// Trailers, up to the empty line.
				while (!readLine(false).isEmpty()) {
					// Ignored.
				}
				return body.toString(StandardCharsets.UTF_8);
			}
			body.write(readExactly(size));
			if (!readLine(false).isEmpty()) {
				throw new IOException("A chunk is not followed by CRLF");
			}
		}
	}

	private byte[] readExactly(long length) throws IOException {
		if (length < 0 || length > 16 * 1024 * 1024) {
			throw new IOException("Unexpected body length " + length);
		}
		byte[] bytes = this.in.readNBytes((int) length);
		if (bytes.length != length) {
			throw new EOFException("The server closed the connection after " + bytes.length + " of " + length
					+ " body bytes");
		}
		return bytes;
	}

	/**
	 * Reads a line ending in CRLF (a bare LF is tolerated), without the line end.
	 * @param eofAllowed whether the end of the stream before the first byte returns
	 * {@code null} rather than failing
	 */
	private String readLine(boolean eofAllowed) throws IOException {
		ByteArrayOutputStream line = new ByteArrayOutputStream();
		while (true) {
			int b = this.in.read();
			if (b == -1) {
				if (eofAllowed && line.size() == 0) {
					return null;
				}
				throw new EOFException("The server closed the connection in the middle of a response (line so far: '"
						+ line.toString(StandardCharsets.ISO_8859_1) + "')");
			}
			if (b == '\n') {
				byte[] bytes = line.toByteArray();
				int length = (bytes.length > 0 && bytes[bytes.length - 1] == '\r') ? bytes.length - 1 : bytes.length;
				return new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
			}
			line.write(b);
			if (line.size() > MAX_LINE) {
				throw new IOException("Line longer than " + MAX_LINE + " bytes");
			}
		}
	}

	/**
	 * Waits, without sending anything, for the server to close this idle connection.
	 * @param timeout the longest time to wait
	 * @return {@code true} if the server closed it (end of stream or reset), {@code false}
	 * if it stayed open for the whole timeout
	 * @throws IOException if the server sent data instead
	 */
	public boolean awaitClosedByServer(Duration timeout) throws IOException {
		int readTimeout = this.socket.getSoTimeout();
		this.socket.setSoTimeout(Math.toIntExact(timeout.toMillis()));
		try {
			int b = this.in.read();
			if (b != -1) {
				throw new IOException("The server sent data on an idle connection: " + b);
			}
			return true;
		}
		catch (SocketTimeoutException ex) {
			return false;
		}
		catch (SocketException ex) {
			return true;
		}
		finally {
			this.socket.setSoTimeout(readTimeout);
		}
	}

	@Override
	public void close() throws IOException {
		this.socket.close();
	}

	@Override
	public String toString() {
		return "connection " + this.socket.getLocalSocketAddress() + " -> " + this.socket.getRemoteSocketAddress();
	}

	/**
	 * One HTTP response.
	 * @param version the protocol of the status line
	 * @param status the status code
	 * @param reason the reason phrase
	 * @param headers the headers, by case-insensitive name
	 * @param body the body, decoded as UTF-8 (de-chunked if it was chunked)
	 */
	public record Response(String version, int status, String reason, Map<String, List<String>> headers, String body) {

		/**
		 * Returns the first value of a header.
		 * @param name the header's name, in any case
		 * @return the value, or {@code null} if the header is absent
		 */
		public String header(String name) {
			List<String> values = this.headers.get(name);
			return (values == null || values.isEmpty()) ? null : values.get(0);
		}

		/**
		 * Whether a {@code Connection} header has the {@code close} token.
		 * @return whether the server announced that it closes the connection
		 */
		public boolean closesConnection() {
			List<String> values = this.headers.getOrDefault("Connection", List.of());
			for (String value : values) {
				for (String token : value.split(",")) {
					if (token.trim().equalsIgnoreCase("close")) {
						return true;
					}
				}
			}
			return false;
		}

		@Override
		public String toString() {
			String shortBody = (this.body.length() > 200) ? this.body.substring(0, 200) + "..." : this.body;
			return this.version + " " + this.status + " " + this.reason + " " + this.headers + " body='"
					+ shortBody + "'";
		}

	}

	/**
	 * What happened to one attempt, classified without hiding anything: a response, a
	 * refused connection, the end of the stream, a reset, or a timeout.
	 * @param kind what happened
	 * @param response the response, if there was one
	 * @param detail the exception's text, if there was one
	 * @param elapsed how long the attempt took
	 */
	public record Outcome(Kind kind, Response response, String detail, Duration elapsed) {

		public enum Kind {

			/** A complete response was read. */
			RESPONSE,

			/** Connecting failed: nobody listens on the port. */
			REFUSED,

			/** The server closed the connection before a complete response. */
			EOF,

			/** The connection was reset, or writing to it failed. */
			RESET,

			/** Connecting or reading exceeded its timeout: the client would hang. */
			TIMEOUT,

			/** Anything else, such as a malformed response. */
			ERROR

		}

		/**
		 * Classifies an attempt.
		 * @param attempt what to try
		 * @return what happened
		 */
		public static Outcome of(Attempt attempt) {
			long start = System.nanoTime();
			try {
				Response response = attempt.run();
				return new Outcome(Kind.RESPONSE, response, null, since(start));
			}
			catch (ConnectException ex) {
				return new Outcome(Kind.REFUSED, null, ex.toString(), since(start));
			}
			catch (SocketTimeoutException ex) {
				return new Outcome(Kind.TIMEOUT, null, ex.toString(), since(start));
			}
			catch (EOFException ex) {
				return new Outcome(Kind.EOF, null, ex.toString(), since(start));
			}
			catch (SocketException ex) {
				return new Outcome(Kind.RESET, null, ex.toString(), since(start));
			}
			catch (IOException ex) {
				return new Outcome(Kind.ERROR, null, ex.toString(), since(start));
			}
		}

		private static Duration since(long startNanos) {
			return Duration.ofNanos(System.nanoTime() - startNanos);
		}

		/**
		 * Whether this is a response with the given status.
		 * @param status the status
		 * @return whether it is
		 */
		public boolean isStatus(int status) {
			return this.kind == Kind.RESPONSE && this.response.status() == status;
		}

		/**
		 * Returns the body of the response.
		 * @return the body, or {@code null} if there was no response
		 */
		public String body() {
			return (this.response != null) ? this.response.body() : null;
		}

		/**
		 * Whether there was a response and it said {@code Connection: close}.
		 * @return whether the server announced that it closes the connection
		 */
		public boolean closesConnection() {
			return this.response != null && this.response.closesConnection();
		}

		/**
		 * Returns the {@code Connection} header of the response.
		 * @return the header, {@code null} if absent, or {@code "-"} if there was no response
		 */
		public String connectionHeader() {
			return (this.response != null) ? this.response.header("Connection") : "-";
		}

		/**
		 * A short description for metric lines: the status, or the kind of failure.
		 * @return the description
		 */
		public String brief() {
			return (this.kind == Kind.RESPONSE) ? String.valueOf(this.response.status()) : this.kind.name();
		}

		@Override
		public String toString() {
			return this.kind + " after " + this.elapsed.toMillis() + " ms"
					+ ((this.response != null) ? ": " + this.response : "")
					+ ((this.detail != null) ? ": " + this.detail : "");
		}

	}

	/**
	 * Something that produces a response or fails with an I/O exception.
	 */
	@FunctionalInterface
	public interface Attempt {

		Response run() throws IOException;

	}

}
