package io.github.gracefulshutdown.web;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
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
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Mono;

import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.jetty.servlet.JettyServletWebServerFactory;
import org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.web.server.Shutdown;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.server.reactive.HttpHandler;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Servers other than Tomcat are drained by Spring Boot's own graceful shutdown, started
 * by our coordinator inside our deadline, and only once.
 */
@ExtendWith(OutputCaptureExtension.class)
class OtherWebServersDrainTests {

	static final CountDownLatch jettyEntered = new CountDownLatch(1);

	static final CountDownLatch nettyEntered = new CountDownLatch(1);

	@Test
	void jettyFinishesTheRequestInFlightInsideOurSequence(CapturedOutput output) throws Exception {
		ConfigurableApplicationContext context = new SpringApplicationBuilder(JettyApplication.class)
			.web(WebApplicationType.SERVLET)
			.properties("spring.main.banner-mode=off")
			.run();
		assertDrained(context, jettyEntered, output);
		assertThat(output).contains("1 request drained");
	}

	@Test
	void reactorNettyFinishesTheRequestInFlightInsideOurSequence(CapturedOutput output) throws Exception {
		ConfigurableApplicationContext context = new SpringApplicationBuilder(NettyApplication.class)
			.web(WebApplicationType.REACTIVE)
			.properties("spring.main.banner-mode=off")
			.run();
		assertDrained(context, nettyEntered, output);
		assertThat(output).as("an HttpHandler bean of the application's own is not decorated, so no count is claimed")
			.contains("Graceful shutdown COMPLETED")
			.doesNotContain("requests drained");
	}

	private static void assertDrained(ConfigurableApplicationContext context, CountDownLatch entered,
			CapturedOutput output) throws Exception {
		int port = ((WebServerApplicationContext) context).getWebServer().getPort();
		CompletableFuture<HttpResponse<String>> response = HttpClient.newHttpClient()
			.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/slow"))
				.timeout(Duration.ofSeconds(20))
				.build(), HttpResponse.BodyHandlers.ofString());
		assertThat(entered.await(10, TimeUnit.SECONDS)).as("request in flight").isTrue();
		context.close();
		assertThat(response).succeedsWithin(Duration.ofSeconds(10)).satisfies((answer) -> {
			assertThat(answer.statusCode()).isEqualTo(200);
			assertThat(answer.body()).isEqualTo("done");
		});
		String log = output.toString();
		int commencing = log.indexOf("Commencing graceful shutdown");
		int summary = log.indexOf("Graceful shutdown COMPLETED");
		assertThat(commencing).as("Spring Boot's drain ran").isNotNegative();
		assertThat(summary).as("our summary").isGreaterThan(commencing);
		assertThat(log.indexOf("Commencing graceful shutdown", commencing + 1)).as("it ran only once").isNegative();
	}

	@Configuration(proxyBeanMethods = false)
	@ImportAutoConfiguration({ LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class,
			GracefulShutdownWebAutoConfiguration.class })
	static class JettyApplication {

		@Bean
		JettyServletWebServerFactory jettyServletWebServerFactory() {
			JettyServletWebServerFactory factory = new JettyServletWebServerFactory(0);
			factory.setShutdown(Shutdown.GRACEFUL);
			return factory;
		}

		@Bean
		ServletRegistrationBean<HttpServlet> slowServlet() {
			return new ServletRegistrationBean<>(new HttpServlet() {

				@Override
				protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
					jettyEntered.countDown();
					sleep(1000);
					response.getWriter().write("done");
				}

			}, "/slow");
		}

	}

	@Configuration(proxyBeanMethods = false)
	@ImportAutoConfiguration({ LifecycleAutoConfiguration.class, GracefulShutdownAutoConfiguration.class,
			GracefulShutdownWebAutoConfiguration.class })
	static class NettyApplication {

		@Bean
		NettyReactiveWebServerFactory nettyReactiveWebServerFactory() {
			NettyReactiveWebServerFactory factory = new NettyReactiveWebServerFactory(0);
			factory.setShutdown(Shutdown.GRACEFUL);
			return factory;
		}

		@Bean
		HttpHandler httpHandler() {
			return (request, response) -> {
				nettyEntered.countDown();
				return Mono.delay(Duration.ofSeconds(1))
					.then(response.writeWith(Mono.fromSupplier(() -> response.bufferFactory()
						.wrap("done".getBytes(StandardCharsets.UTF_8)))));
			};
		}

	}

	private static void sleep(long millis) {
		try {
			Thread.sleep(millis);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

}
