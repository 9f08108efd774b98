package io.github.gracefulshutdown.autoconfigure;

import io.github.gracefulshutdown.core.ShutdownCoordinator;
import io.github.gracefulshutdown.grpc.GrpcHealthFollowsReadiness;
import io.github.gracefulshutdown.grpc.InFlightCalls;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.grpc.server.ServerBuilderCustomizer;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;

/**
 * Auto-configuration that makes the gRPC servers of Spring gRPC participants of the one
 * shutdown: their calls are counted by an interceptor that every server built by Spring
 * Boot gets, GOAWAY is sent when draining starts, what is left is cut at the deadline,
 * and gRPC health follows readiness. Active only when a gRPC server is configured, so an
 * application with Spring gRPC on its classpath and no gRPC service claims no calls.
 */
@AutoConfiguration(after = GracefulShutdownAutoConfiguration.class,
		afterName = { "org.springframework.boot.grpc.server.autoconfigure.GrpcServerAutoConfiguration",
				"org.springframework.boot.grpc.server.autoconfigure.health.GrpcServerHealthAutoConfiguration" })
@ConditionalOnClass({ GrpcServerLifecycle.class, Server.class })
@ConditionalOnBean({ ShutdownCoordinator.class, GrpcServerLifecycle.class })
public final class GracefulShutdownGrpcAutoConfiguration {

	private static final Log logger = LogFactory.getLog(GracefulShutdownGrpcAutoConfiguration.class);

	static final String GRACE_PERIOD_PROPERTY = "spring.grpc.server.shutdown.grace-period";

	@Bean
	@ConditionalOnMissingBean
	InFlightCalls grpcInFlightCalls(Environment environment) {
		if (environment.containsProperty(GRACE_PERIOD_PROPERTY)) {
			// Said once, at startup: the setting is not silently ignored.
			logger.info(GRACE_PERIOD_PROPERTY + " is not used: graceful-shutdown drains the gRPC server itself, "
					+ "within spring.lifecycle.timeout-per-shutdown-phase; set graceful-shutdown.enabled=false "
					+ "to use it");
		}
		return new InFlightCalls();
	}

	/**
	 * Counts the calls of every server Spring Boot builds, on a server-wide interceptor:
	 * ahead of every per-service interceptor, and for services that an interceptor filter
	 * leaves out too.
	 */
	@Bean
	<T extends ServerBuilder<T>> ServerBuilderCustomizer<T> grpcInFlightCallsServerBuilderCustomizer(
			InFlightCalls grpcInFlightCalls) {
		return grpcInFlightCalls::intercept;
	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnClass(HealthStatusManager.class)
	@ConditionalOnBean(HealthStatusManager.class)
	static class HealthConfiguration {

		@Bean
		@ConditionalOnMissingBean
		GrpcHealthFollowsReadiness grpcHealthFollowsReadiness(
				ObjectProvider<HealthStatusManager> healthStatusManagers) {
			return new GrpcHealthFollowsReadiness(healthStatusManagers);
		}

	}

}
