package io.github.gracefulshutdown.web;

import java.io.IOException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownWebAutoConfiguration;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.Http2;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.support.StaticApplicationContext;
import org.springframework.core.env.Environment;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

/**
 * HTTP/2 on a real Tomcat, read frame by frame: at drain start every HTTP/2 connection
 * gets Tomcat's graceful GOAWAY, its streams in flight finish whole and are counted, a
 * stream opened later is refused with the final GOAWAY, and no response carries the
 * {@code Connection} header that HTTP/2 forbids.
 */
class TomcatHttp2DrainTests {

	private static final Duration WAIT = Duration.ofSeconds(10);

	static final CountDownLatch slowEntered = new CountDownLatch(1);

	static final CountDownLatch slowReleased = new CountDownLatch(1);

	@Test
	@Timeout(value = 60, unit = TimeUnit.SECONDS)
	void everyHttp2ConnectionGetsGoAwayAtDrainStartAndItsStreamsInFlightFinish() throws Exception {
		ConfigurableApplicationContext context = new SpringApplicationBuilder(Http2Application.class)
			.web(WebApplicationType.SERVLET)
			.properties("spring.main.banner-mode=off")
			.run();
		try (context) {
			int port = ((WebServerApplicationContext) context).getWebServer().getPort();
			InFlightRequests requests = context.getBean(InFlightRequests.class);
			try (H2Connection busy = H2Connection.cleartext(port); H2Connection idle = H2Connection.cleartext(port)) {
				// An HTTP/2 connection that served a stream and now has none.
				assertThat(idle.awaitResponse(idle.get("/hello"), WAIT).body()).isEqualTo("hello");
				int slow = busy.get("/slow");
				assertThat(slowEntered.await(10, TimeUnit.SECONDS)).as("the slow stream runs").isTrue();
				assertThat(requests.inFlightCount().getAsLong()).as("a request on an HTTP/2 stream is counted")
					.isOne();
				assertThat(requests.inFlight()).singleElement()
					.satisfies((inFlight) -> assertThat(inFlight.description()).isEqualTo("GET /slow"));

				// As the coordinator does at drain start; not by closing the context, so that
				// Tomcat is not stopping while it writes the response (Http2IT does that).
				CompletableFuture<?> drained = requests.drain().toCompletableFuture();

				H2Connection.GoAway first = busy.awaitGoAway(1, WAIT);
				assertThat(first.lastStreamId()).as("graceful: every stream may still finish " + first)
					.isEqualTo(H2Connection.MAX_STREAM_ID);
				assertThat(first.errorCode()).as("NO_ERROR").isZero();
				H2Connection.GoAway idleGoAway = idle.awaitGoAway(1, WAIT);
				assertThat(idleGoAway.lastStreamId()).isEqualTo(H2Connection.MAX_STREAM_ID);
				assertThat(idleGoAway.errorCode()).isZero();
				assertThatExceptionOfType(ConnectException.class).as("a new connection")
					.isThrownBy(() -> H2Connection.cleartext(port).close());

				// Tomcat takes new streams for one round trip after the first GOAWAY (they
				// may have been on the wire); this one comes well after it.
				Thread.sleep(200);
				int late = busy.get("/hello");
				H2Connection.GoAway last = busy.awaitGoAway(2, WAIT);
				assertThat(last.lastStreamId()).as("the final GOAWAY names the last stream processed: " + last)
					.isEqualTo(slow)
					.isLessThan(late);
				assertThat(last.errorCode()).isZero();
				assertThat(drained).as("the drain waits for the stream in flight").isNotDone();

				slowReleased.countDown();
				H2Connection.Response response = busy.awaitResponse(slow, WAIT);
				assertThat(response.complete()).as("the stream in flight finished: " + busy).isTrue();
				assertThat(response.status()).isEqualTo(200);
				assertThat(response.body()).isEqualTo("done");
				assertThat(response.headers()).as("HTTP/2 forbids connection-specific headers")
					.doesNotContainKeys("connection", "keep-alive");
				assertThat(drained).succeedsWithin(WAIT);
				assertThat(requests.completedCount().getAsLong()).as("/hello and /slow").isEqualTo(2);

				context.close();
				assertThat(busy.awaitEnd(WAIT)).as("closed when Tomcat stops").isEqualTo("closed by the server");
				assertThat(idle.awaitEnd(WAIT)).as("closed when Tomcat stops").isEqualTo("closed by the server");
				assertThat(busy.response(late).headers()).as("the stream opened after GOAWAY was not processed")
					.isEmpty();
			}
		}
		finally {
			slowReleased.countDown();
		}
	}

	@Test
	@Timeout(value = 60, unit = TimeUnit.SECONDS)
	void goAwayIsSentEvenWhenTomcatBoundOnInitAndKeepsItsServerSocket() throws Exception {
		// Then closing the server socket gracefully does nothing at all, GOAWAY included.
		ConfigurableApplicationContext context = new SpringApplicationBuilder(Http2Application.class)
			.web(WebApplicationType.SERVLET)
			.properties("spring.main.banner-mode=off", "test.bind-on-init=true")
			.run();
		try (context) {
			int port = ((WebServerApplicationContext) context).getWebServer().getPort();
			try (H2Connection connection = H2Connection.cleartext(port)) {
				assertThat(connection.awaitResponse(connection.get("/hello"), WAIT).body()).isEqualTo("hello");
				assertThat(context.getBean(InFlightRequests.class).drain().toCompletableFuture()).isCompleted();
				H2Connection.GoAway goAway = connection.awaitGoAway(1, WAIT);
				assertThat(goAway.lastStreamId()).isEqualTo(H2Connection.MAX_STREAM_ID);
				assertThat(goAway.errorCode()).isZero();
			}
		}
	}

	@Test
	void http2ResponsesNeverGetAConnectionHeader() throws Exception {
		InFlightRequests requests = new InFlightRequests(new StaticApplicationContext());
		requests.onApplicationEvent(new AvailabilityChangeEvent<>(this, ReadinessState.REFUSING_TRAFFIC));
		MockHttpServletResponse draining = new MockHttpServletResponse();
		requests.doFilter(http2Get(), draining, (req, res) -> {
		});
		assertThat(draining.getHeader("Connection")).as("while draining").isNull();

		assertThat(requests.drain().toCompletableFuture()).isCompleted();
		MockHttpServletResponse refused = new MockHttpServletResponse();
		requests.doFilter(http2Get(), refused, (req, res) -> {
			throw new AssertionError("a request arriving after the drain must not run");
		});
		assertThat(refused.getStatus()).isEqualTo(503);
		assertThat(refused.getHeader("Connection")).as("once drained").isNull();
	}

	private static MockHttpServletRequest http2Get() {
		MockHttpServletRequest request = new MockHttpServletRequest("GET", "/hello");
		request.setProtocol("HTTP/2.0");
		return request;
	}

	@Configuration(proxyBeanMethods = false)
	@ImportAutoConfiguration({ LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class,
			GracefulShutdownWebAutoConfiguration.class })
	static class Http2Application {

		@Bean
		TomcatServletWebServerFactory tomcatServletWebServerFactory(Environment environment) {
			TomcatServletWebServerFactory factory = new TomcatServletWebServerFactory(0);
			if (environment.getProperty("test.bind-on-init", Boolean.class, false)) {
				factory.addConnectorCustomizers((connector) -> connector.setProperty("bindOnInit", "true"));
			}
			Http2 http2 = new Http2();
			http2.setEnabled(true);
			factory.setHttp2(http2);
			return factory;
		}

		@Bean
		ServletRegistrationBean<HttpServlet> slowServlet() {
			return new ServletRegistrationBean<>(new HttpServlet() {

				@Override
				protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
					slowEntered.countDown();
					try {
						if (!slowReleased.await(30, TimeUnit.SECONDS)) {
							throw new IllegalStateException("never released");
						}
					}
					catch (InterruptedException ex) {
						Thread.currentThread().interrupt();
						throw new IllegalStateException(ex);
					}
					response.getWriter().write("done");
				}

			}, "/slow");
		}

		@Bean
		ServletRegistrationBean<HttpServlet> helloServlet() {
			return new ServletRegistrationBean<>(new HttpServlet() {

				@Override
				protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
					response.getWriter().write("hello");
				}

			}, "/hello");
		}

	}

}
