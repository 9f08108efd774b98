package io.github.gracefulshutdown.web;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
import org.springframework.boot.tomcat.autoconfigure.servlet.TomcatServletWebServerAutoConfiguration;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.boot.web.servlet.ServletListenerRegistrationBean;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * On a real Tomcat a request stays counted after the filter chain has returned, until
 * Tomcat has finished its response: a request listener, which Tomcat calls after the
 * filters and before it writes what the response buffer still holds, sees it in flight.
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

}
