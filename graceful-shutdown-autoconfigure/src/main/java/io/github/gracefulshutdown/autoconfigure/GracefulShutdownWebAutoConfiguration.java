package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.web.InFlightRequests;
import io.github.gracefulshutdown.web.WebServerDrain;
import jakarta.servlet.DispatcherType;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
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
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Auto-configuration that makes the web server a participant of the one shutdown: it is
 * drained inside the deadline, in parallel with the jobs.
 */
@AutoConfiguration
@ConditionalOnBooleanProperty(name = "graceful-shutdown.enabled", matchIfMissing = true)
@ConditionalOnWebApplication
@ConditionalOnClass(WebServer.class)
public final class GracefulShutdownWebAutoConfiguration {

	@Bean
	@ConditionalOnMissingBean
	WebServerDrain webServerDrain(ApplicationContext context, ObjectProvider<InFlightRequests> inFlightRequests) {
		return new WebServerDrain(context, inFlightRequests);
	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
	@ConditionalOnClass(OncePerRequestFilter.class)
	static class ServletConfiguration {

		@Bean
		@ConditionalOnMissingBean
		InFlightRequests inFlightRequests() {
			return new InFlightRequests();
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
	@ConditionalOnClass({ TomcatServletWebServerFactory.class, OncePerRequestFilter.class })
	static class TomcatConfiguration {

		@Bean
		TomcatDrainOwnershipCustomizer tomcatDrainOwnershipCustomizer() {
			return new TomcatDrainOwnershipCustomizer();
		}

	}

	/**
	 * Our coordinator drains Tomcat; Spring Boot's own drain would run a second time in a
	 * later phase, with its own timeout and its own log lines, so it is made immediate.
	 * Runs after Spring Boot's customizer that applies {@code server.shutdown}.
	 */
	static final class TomcatDrainOwnershipCustomizer
			implements WebServerFactoryCustomizer<TomcatServletWebServerFactory>, Ordered {

		@Override
		public void customize(TomcatServletWebServerFactory factory) {
			factory.setShutdown(Shutdown.IMMEDIATE);
		}

		@Override
		public int getOrder() {
			return Ordered.LOWEST_PRECEDENCE;
		}

	}

}
