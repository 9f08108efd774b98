package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.web.GracefulHttp11NioProtocol;
import io.github.gracefulshutdown.web.InFlightRequests;
import io.github.gracefulshutdown.web.ResponseStreams;
import io.github.gracefulshutdown.web.TomcatWebSocketSessions;
import io.github.gracefulshutdown.web.WebServerDrain;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.websocket.server.ServerContainer;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.apache.tomcat.websocket.WsWebSocketContainer;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.Shutdown;
import org.springframework.boot.web.server.WebServer;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.env.Environment;
import org.springframework.web.context.WebApplicationContext;
import org.springframework.web.context.request.async.DeferredResultProcessingInterceptor;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * Auto-configuration that makes the web server a participant of the one shutdown: it is
 * drained inside the deadline, in parallel with everything else. A servlet application
 * gets the request counter, which also drains the server; a reactive one gets a drain
 * that touches no servlet class, so it starts without the servlet API on its classpath.
 */
@AutoConfiguration(after = GracefulShutdownAutoConfiguration.class)
@ConditionalOnBean(ShutdownCoordinator.class)
@ConditionalOnWebApplication
@ConditionalOnClass(WebServer.class)
public final class GracefulShutdownWebAutoConfiguration {

	private static final Log logger = LogFactory.getLog(GracefulShutdownWebAutoConfiguration.class);

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
	@ConditionalOnClass({ Filter.class, FilterRegistrationBean.class })
	static class ServletConfiguration {

		@Bean
		@ConditionalOnMissingBean
		InFlightRequests inFlightRequests(ApplicationContext context) {
			return new InFlightRequests(context);
		}

		@Bean
		FilterRegistrationBean<InFlightRequests> inFlightRequestsRegistration(InFlightRequests inFlightRequests) {
			FilterRegistrationBean<InFlightRequests> registration = new FilterRegistrationBean<>(inFlightRequests);
			// Outermost, so it sees a request first and its response last.
			registration.setOrder(Ordered.HIGHEST_PRECEDENCE);
			registration.setAsyncSupported(true);
			// A request is counted once, on its first dispatch, until it completes.
			registration.setDispatcherTypes(DispatcherType.REQUEST);
			return registration;
		}

	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
	@ConditionalOnClass({ WebMvcConfigurer.class, DeferredResultProcessingInterceptor.class })
	static class MvcStreamsConfiguration {

		@Bean
		@ConditionalOnMissingBean
		ResponseStreams responseStreams() {
			return new ResponseStreams();
		}

	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
	@ConditionalOnClass({ WsWebSocketContainer.class, ServerContainer.class, Filter.class })
	static class WebSocketConfiguration {

		@Bean
		@ConditionalOnMissingBean
		TomcatWebSocketSessions webSocketSessions(WebApplicationContext context) {
			return new TomcatWebSocketSessions(context);
		}

	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
	static class ReactiveConfiguration {

		@Bean
		@ConditionalOnMissingBean
		WebServerDrain webServerDrain(ApplicationContext context) {
			return new WebServerDrain(context);
		}

	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
	@ConditionalOnClass({ TomcatServletWebServerFactory.class, Filter.class })
	static class TomcatConfiguration {

		@Bean
		TomcatDrainOwnershipCustomizer tomcatDrainOwnershipCustomizer(Environment environment) {
			if ("immediate".equalsIgnoreCase(environment.getProperty("server.shutdown"))) {
				// Said once, at startup: the setting is overridden, not silently ignored.
				logger.info("server.shutdown=immediate is overridden: graceful-shutdown drains Tomcat itself, "
						+ "within spring.lifecycle.timeout-per-shutdown-phase; set graceful-shutdown.enabled=false "
						+ "to shut down immediately");
			}
			return new TomcatDrainOwnershipCustomizer();
		}

	}

	/**
	 * Our coordinator drains Tomcat; Spring Boot's own drain would run a second time in a
	 * later phase, with its own timeout and its own log lines, so it is made immediate.
	 * The connector's protocol becomes {@link GracefulHttp11NioProtocol}, which ends
	 * keep-alive on every response committed once the drain is near. Runs after Spring
	 * Boot's customizer that applies {@code server.shutdown}.
	 */
	static final class TomcatDrainOwnershipCustomizer
			implements WebServerFactoryCustomizer<TomcatServletWebServerFactory>, Ordered {

		@Override
		public void customize(TomcatServletWebServerFactory factory) {
			factory.setShutdown(Shutdown.IMMEDIATE);
			if (!GracefulHttp11NioProtocol.isSupported()) {
				logger.warn("This Tomcat version does not let graceful-shutdown see when a response is committed: "
						+ "a response already being written when the drain starts gets no Connection: close");
			}
			else if (TomcatServletWebServerFactory.DEFAULT_PROTOCOL.equals(factory.getProtocol())) {
				factory.setProtocol(GracefulHttp11NioProtocol.class.getName());
			}
			else {
				// Said once, at startup: a protocol of the user's is kept, with what it costs.
				logger.info("Tomcat protocol " + factory.getProtocol() + " is kept: a response already being "
						+ "written when the drain starts gets no Connection: close");
			}
		}

		@Override
		public int getOrder() {
			return Ordered.LOWEST_PRECEDENCE;
		}

	}

}
