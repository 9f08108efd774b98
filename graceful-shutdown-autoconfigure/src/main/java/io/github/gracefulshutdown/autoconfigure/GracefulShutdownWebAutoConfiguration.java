package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.web.GracefulHttp11NioProtocol;
import io.github.gracefulshutdown.web.InFlightRequests;
import io.github.gracefulshutdown.web.ReactiveInFlightRequests;
import io.github.gracefulshutdown.web.ResponseStreams;
import io.github.gracefulshutdown.web.TomcatResponsesFinished;
import io.github.gracefulshutdown.web.TomcatWebSocketSessions;
import io.github.gracefulshutdown.web.WebSocketSessions;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.websocket.server.ServerContainer;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.apache.tomcat.websocket.WsWebSocketContainer;
import reactor.core.publisher.Mono;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.tomcat.reactive.TomcatReactiveWebServerFactory;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.Shutdown;
import org.springframework.boot.web.server.WebServer;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.boot.webflux.autoconfigure.WebHttpHandlerBuilderCustomizer;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.core.env.Environment;
import org.springframework.http.server.reactive.HttpHandler;
import org.springframework.web.context.WebApplicationContext;
import org.springframework.web.context.request.async.DeferredResultProcessingInterceptor;
import org.springframework.web.reactive.socket.server.support.WebSocketHandlerAdapter;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * Auto-configuration that makes the web server a participant of the one shutdown: it is
 * drained inside the deadline, in parallel with everything else. A servlet application
 * gets the servlet request counter, a reactive (WebFlux) one the reactive counter and the
 * WebSocket sessions; each also drains its server. The reactive classes touch no servlet
 * class, so a reactive application starts without the servlet API on its classpath.
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

		// The participants' order is the log's: "Draining 12 requests, 1 stream".
		@Bean
		@ConditionalOnMissingBean
		@Order(Ordered.LOWEST_PRECEDENCE - 1)
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
	@ConditionalOnClass({ HttpHandler.class, Mono.class })
	static class ReactiveConfiguration {

		// The participants' order is the log's: "Draining 12 requests, 1 WebSocket session".
		@Bean
		@ConditionalOnMissingBean
		@Order(Ordered.LOWEST_PRECEDENCE - 1)
		ReactiveInFlightRequests reactiveInFlightRequests(ApplicationContext context) {
			return new ReactiveInFlightRequests(context);
		}

		/**
		 * Counts the requests of the application's own server. A customizer rather than
		 * an {@code HttpHandlerDecoratorFactory} bean: Spring looks such beans up in the
		 * ancestors too, so the management server's child context would count (and, once
		 * drained, refuse) its actuator requests as well.
		 */
		@Configuration(proxyBeanMethods = false)
		@ConditionalOnClass(WebHttpHandlerBuilderCustomizer.class)
		static class HttpHandlerConfiguration {

			@Bean
			WebHttpHandlerBuilderCustomizer reactiveInFlightRequestsCustomizer(ReactiveInFlightRequests requests) {
				return (builder) -> builder.httpHandlerDecorator(requests::decorate);
			}

		}

		@Configuration(proxyBeanMethods = false)
		@ConditionalOnClass(WebSocketHandlerAdapter.class)
		static class WebSocketConfiguration {

			@Bean
			@ConditionalOnMissingBean
			@Order(Ordered.LOWEST_PRECEDENCE)
			WebSocketSessions webSocketSessions() {
				return new WebSocketSessions();
			}

			@Bean
			static WebSocketSessions.AdapterPostProcessor webSocketSessionsPostProcessor(
					ObjectProvider<WebSocketSessions> sessions) {
				return new WebSocketSessions.AdapterPostProcessor(sessions);
			}

		}

		@Configuration(proxyBeanMethods = false)
		@ConditionalOnClass(TomcatReactiveWebServerFactory.class)
		static class ReactiveTomcatConfiguration {

			@Bean
			ReactiveTomcatDrainOwnershipCustomizer reactiveTomcatDrainOwnershipCustomizer() {
				return new ReactiveTomcatDrainOwnershipCustomizer();
			}

			/**
			 * Ends each WebFlux request once Tomcat has finished writing its response, as
			 * on the servlet stack: the handling's end only hands the rest to Tomcat.
			 */
			@Bean
			WebServerFactoryCustomizer<TomcatReactiveWebServerFactory> reactiveTomcatResponsesFinishedCustomizer(
					ReactiveInFlightRequests requests) {
				return (factory) -> factory.addEngineValves(new TomcatResponsesFinished(requests));
			}

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

		/**
		 * Ends each request once Tomcat has finished writing its response, so that the
		 * drain cannot complete while the end of a response is still unsent.
		 */
		@Bean
		WebServerFactoryCustomizer<TomcatServletWebServerFactory> tomcatResponsesFinishedCustomizer(
				InFlightRequests requests) {
			return (factory) -> factory.addEngineValves(new TomcatResponsesFinished(requests));
		}

	}

	/**
	 * The same for reactive Tomcat, which {@link ReactiveInFlightRequests} drains itself
	 * too.
	 */
	static final class ReactiveTomcatDrainOwnershipCustomizer
			implements WebServerFactoryCustomizer<TomcatReactiveWebServerFactory>, Ordered {

		@Override
		public void customize(TomcatReactiveWebServerFactory factory) {
			factory.setShutdown(Shutdown.IMMEDIATE);
		}

		@Override
		public int getOrder() {
			return Ordered.LOWEST_PRECEDENCE;
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
