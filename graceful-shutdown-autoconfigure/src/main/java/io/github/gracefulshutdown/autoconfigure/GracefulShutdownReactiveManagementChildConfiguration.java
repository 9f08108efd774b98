package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.ShutdownCoordinator;

import org.springframework.boot.actuate.autoconfigure.web.ManagementContextConfiguration;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextType;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.web.server.Shutdown;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.boot.web.server.reactive.ConfigurableReactiveWebServerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.core.Ordered;

/**
 * For a reactive management server on a port of its own (Reactor Netty, Tomcat, Jetty):
 * its child context closes only after our sequence has ended, so its endpoints stay
 * reachable throughout, and by then there is nothing left to drain. Spring Boot's own
 * drain of it is made immediate, rather than logging a second "graceful shutdown" after
 * ours.
 */
@ManagementContextConfiguration(value = ManagementContextType.CHILD, proxyBeanMethods = false)
@ConditionalOnBean(ShutdownCoordinator.class)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
final class GracefulShutdownReactiveManagementChildConfiguration {

	@Bean
	ImmediateManagementShutdown immediateManagementShutdown() {
		return new ImmediateManagementShutdown();
	}

	/**
	 * Runs after Spring Boot's customizer that applies {@code server.shutdown}.
	 */
	static final class ImmediateManagementShutdown
			implements WebServerFactoryCustomizer<ConfigurableReactiveWebServerFactory>, Ordered {

		@Override
		public void customize(ConfigurableReactiveWebServerFactory factory) {
			factory.setShutdown(Shutdown.IMMEDIATE);
		}

		@Override
		public int getOrder() {
			return Ordered.LOWEST_PRECEDENCE;
		}

	}

}
