package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.ShutdownCoordinator;

import org.springframework.boot.actuate.autoconfigure.web.ManagementContextConfiguration;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextType;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.context.annotation.Bean;

/**
 * For a management server on a port of its own: it lives in a child context that
 * closes only after our sequence has ended, so its endpoints stay reachable throughout.
 * By then there is nothing left to drain, so Spring Boot's own drain of it is made
 * immediate too, rather than logging a second "graceful shutdown" after ours.
 */
@ManagementContextConfiguration(value = ManagementContextType.CHILD, proxyBeanMethods = false)
@ConditionalOnBean(ShutdownCoordinator.class)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass(TomcatServletWebServerFactory.class)
final class GracefulShutdownManagementChildConfiguration {

	@Bean
	GracefulShutdownWebAutoConfiguration.TomcatDrainOwnershipCustomizer managementTomcatDrainOwnershipCustomizer() {
		return new GracefulShutdownWebAutoConfiguration.TomcatDrainOwnershipCustomizer();
	}

}
