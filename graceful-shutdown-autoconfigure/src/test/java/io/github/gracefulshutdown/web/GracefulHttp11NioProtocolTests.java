package io.github.gracefulshutdown.web;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.apache.catalina.connector.Connector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.springframework.boot.tomcat.TomcatWebServer;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real Tomcat with the protocol: a response committed after it was told to close
 * connections carries {@code Connection: close}, however it was committed, and one
 * committed before keeps its connection.
 */
class GracefulHttp11NioProtocolTests {

	private TomcatWebServer server;

	private final CountDownLatch entered = new CountDownLatch(1);

	private final CountDownLatch proceed = new CountDownLatch(1);

	@BeforeEach
	void start() {
		TomcatServletWebServerFactory factory = new TomcatServletWebServerFactory(0);
		factory.setProtocol(GracefulHttp11NioProtocol.class.getName());
		factory.addInitializers((context) -> context.addServlet("shapes", new Shapes()).addMapping("/*"));
		this.server = (TomcatWebServer) factory.getWebServer();
		this.server.start();
	}

	@AfterEach
	void stop() {
		this.proceed.countDown();
		this.server.stop();
	}

	@Test
	void everyWayOfCommittingAResponseEndsItsConnectionOnceTold() throws Exception {
		protocol().closeConnections();
		assertThat(protocol().isClosingConnections()).isTrue();
		for (String shape : List.of("small", "flush", "large", "error")) {
			assertThat(get("/" + shape)).as(shape).contains("Connection: close");
		}
	}

	@Test
	void untilToldResponsesKeepTheirConnections() throws Exception {
		for (String shape : List.of("small", "flush", "large")) {
			assertThat(get("/" + shape)).as(shape).doesNotContain("Connection: close");
		}
	}

	@Test
	void aResponseInFlightWhenToldGetsTheHeaderWhenItCommits() throws Exception {
		CompletableFuture<List<String>> response = CompletableFuture.supplyAsync(() -> {
			try {
				return get("/wait");
			}
			catch (IOException ex) {
				throw new IllegalStateException(ex);
			}
		});
		assertThat(this.entered.await(10, TimeUnit.SECONDS)).isTrue();
		protocol().closeConnections();
		this.proceed.countDown();
		assertThat(response.get(10, TimeUnit.SECONDS)).contains("Connection: close");
	}

	private GracefulHttp11NioProtocol protocol() {
		Connector connector = this.server.getTomcat().getConnector();
		assertThat(connector.getProtocolHandler()).isInstanceOf(GracefulHttp11NioProtocol.class);
		return (GracefulHttp11NioProtocol) connector.getProtocolHandler();
	}

	/** The status line and headers of one response on a new connection. */
	private List<String> get(String path) throws IOException {
		try (Socket socket = new Socket("127.0.0.1", this.server.getPort())) {
			socket.setSoTimeout(10_000);
			OutputStream out = socket.getOutputStream();
			out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
			out.flush();
			BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1));
			List<String> head = new ArrayList<>();
			for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
				head.add(line);
			}
			return head;
		}
	}

	private final class Shapes extends HttpServlet {

		@Override
		protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
			switch (request.getRequestURI()) {
				case "/small" -> response.getWriter().write("small");
				case "/flush" -> {
					response.getWriter().write("flushed");
					response.flushBuffer();
				}
				case "/large" -> response.getOutputStream().write(new byte[64 * 1024]);
				case "/error" -> response.sendError(HttpServletResponse.SC_CONFLICT);
				case "/wait" -> {
					GracefulHttp11NioProtocolTests.this.entered.countDown();
					try {
						GracefulHttp11NioProtocolTests.this.proceed.await(10, TimeUnit.SECONDS);
					}
					catch (InterruptedException ex) {
						Thread.currentThread().interrupt();
					}
					response.getWriter().write("waited");
					response.flushBuffer();
				}
				default -> response.sendError(HttpServletResponse.SC_NOT_FOUND);
			}
		}

	}

}
