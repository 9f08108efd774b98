package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.actuate.ShutdownStatusEndpoint;
import io.github.gracefulshutdown.actuate.ShutdownStatusPathMapper;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.github.gracefulshutdown.core.ShutdownCoordinator;

import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.web.PathMapper;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * Auto-configuration of the {@code shutdownStatus} actuator endpoint, at
 * {@code /actuator/shutdown-status}. Like every actuator endpoint it is available over
 * HTTP only when included in {@code management.endpoints.web.exposure.include}, and over
 * JMX where JMX exposure is on.
 */
@AutoConfiguration(after = GracefulShutdownAutoConfiguration.class)
@ConditionalOnClass(Endpoint.class)
@ConditionalOnBean(ShutdownCoordinator.class)
public final class GracefulShutdownEndpointAutoConfiguration {

	@Bean
	@ConditionalOnMissingBean
	@ConditionalOnAvailableEndpoint
	ShutdownStatusEndpoint shutdownStatusEndpoint(ShutdownCoordinator shutdownCoordinator, DefaultJobRegistry jobRegistry) {
		return new ShutdownStatusEndpoint(shutdownCoordinator, jobRegistry);
	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnClass(PathMapper.class)
	static class PathMappingConfiguration {

		@Bean
		ShutdownStatusPathMapper shutdownStatusPathMapper(Environment environment) {
			return new ShutdownStatusPathMapper(environment);
		}

	}

}
