package io.github.gracefulshutdown.web;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownWebAutoConfiguration;
import jakarta.servlet.ServletRequestEvent;
import jakarta.servlet.ServletRequestListener;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.junit.jupiter.api.Test;

import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.tomcat.TomcatContextCustomizer;
import org.springframework.boot.tomcat.autoconfigure.reactive.TomcatReactiveWebServerAutoConfiguration;
import org.springframework.boot.tomcat.autoconfigure.servlet.TomcatServletWebServerAutoConfiguration;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.boot.web.servlet.ServletListenerRegistrationBean;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.boot.webflux.autoconfigure.HttpHandlerAutoConfiguration;
import org.springframework.boot.webflux.autoconfigure.WebFluxAutoConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * On a real Tomcat a request stays counted after the filter chain has returned, until
 * Tomcat has finished its response: a request listener, which Tomcat calls after the
 * filters and before it writes what the response buffer still holds, sees it in flight.
 * The same for a WebFlux request on reactive Tomcat, whose handling ends before Tomcat,
 * on a thread of its own, finishes the response.
 */
class TomcatResponsesFinishedTests {

	static final List<Long> inFlightAfterTheFilters = new CopyOnWriteArrayList<>();

	@Test
	void aRequestEndsOnlyOnceTomcatHasFinishedItsResponse() throws Exception {
		try (ConfigurableApplicationContext context = new SpringApplicationBuilder(App.class)
			.web(WebApplicationType.SERVLET)
			.properties("spring.main.banner-mode=off", "server.port=0")
			.run()) {
			int port = ((WebServerApplicationContext) context).getWebServer().getPort();
			HttpClient client = HttpClient.newHttpClient();
			HttpResponse<String> response = client.send(
					HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/body")).build(),
					HttpResponse.BodyHandlers.ofString());
			assertThat(response.body()).isEqualTo("body");
			InFlightRequests requests = context.getBean(InFlightRequests.class);
			assertThat(inFlightAfterTheFilters).as("in flight once the filters had returned").containsExactly(1L);
			assertThat(requests.inFlightCount()).as("ended once the response was finished").hasValue(0);
			assertThat(requests.completedCount()).hasValue(1);
		}
	}

	@Test
	void aWebFluxRequestOnReactiveTomcatEndsOnlyOnceTomcatHasFinishedItsResponse() throws Exception {
		try (ConfigurableApplicationContext context = new SpringApplicationBuilder(ReactiveApp.class)
			.web(WebApplicationType.REACTIVE)
			.properties("spring.main.banner-mode=off", "server.port=0")
			.run()) {
			int port = ((WebServerApplicationContext) context).getWebServer().getPort();
			HttpResponse<String> response = HttpClient.newHttpClient()
				.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/body")).build(),
						HttpResponse.BodyHandlers.ofString());
			assertThat(response.body()).isEqualTo("body");
			ReactiveInFlightRequests requests = context.getBean(ReactiveInFlightRequests.class);
			// The client may have read the whole body before Tomcat has finished.
			await().atMost(Duration.ofSeconds(5)).until(() -> !ReactiveApp.inFlightAfterTheHandling.isEmpty());
			await().atMost(Duration.ofSeconds(5)).until(() -> requests.inFlightCount().getAsLong() == 0);
			assertThat(ReactiveApp.inFlightAfterTheHandling).as("in flight once the handling had ended")
				.containsExactly(1L);
			assertThat(requests.inFlightCount()).as("ended once the response was finished").hasValue(0);
			assertThat(requests.completedCount()).hasValue(1);
		}
	}

	@ImportAutoConfiguration({ LifecycleAutoConfiguration.class, TomcatServletWebServerAutoConfiguration.class,
			GracefulShutdownAutoConfiguration.class, GracefulShutdownWebAutoConfiguration.class })
	static class App {

		@Bean
		ServletRegistrationBean<HttpServlet> body() {
			return new ServletRegistrationBean<>(new HttpServlet() {
				@Override
				protected void doGet(HttpServletRequest request, HttpServletResponse response)
						throws java.io.IOException {
					response.getWriter().write("body");
				}
			}, "/body");
		}

		@Bean
		ServletListenerRegistrationBean<ServletRequestListener> afterTheFilters(InFlightRequests requests) {
			return new ServletListenerRegistrationBean<>(new ServletRequestListener() {
				@Override
				public void requestDestroyed(ServletRequestEvent event) {
					inFlightAfterTheFilters.add(requests.inFlightCount().getAsLong());
				}
			});
		}

	}

	@ImportAutoConfiguration({ LifecycleAutoConfiguration.class, TomcatReactiveWebServerAutoConfiguration.class,
			HttpHandlerAutoConfiguration.class, WebFluxAutoConfiguration.class, GracefulShutdownAutoConfiguration.class,
			GracefulShutdownWebAutoConfiguration.class })
	static class ReactiveApp {

		static final List<Long> inFlightAfterTheHandling = new CopyOnWriteArrayList<>();

		@Bean
		RouterFunction<ServerResponse> body() {
			return RouterFunctions.route().GET("/body", (request) -> ServerResponse.ok().bodyValue("body")).build();
		}

		/**
		 * Tomcat calls a request listener once the async handling has completed, on its
		 * own thread, and only then finishes the response. The pause gives a request
		 * ended with the handling the time to show as ended.
		 */
		@Bean
		TomcatContextCustomizer afterTheHandling(ReactiveInFlightRequests requests) {
			ServletRequestListener listener = new ServletRequestListener() {
				@Override
				public void requestDestroyed(ServletRequestEvent event) {
					try {
						Thread.sleep(200);
					}
					catch (InterruptedException ex) {
						Thread.currentThread().interrupt();
					}
					inFlightAfterTheHandling.add(requests.inFlightCount().getAsLong());
				}
			};
			return (context) -> context.addServletContainerInitializer(
					(classes, servletContext) -> servletContext.addListener(listener), null);
		}

	}

}
