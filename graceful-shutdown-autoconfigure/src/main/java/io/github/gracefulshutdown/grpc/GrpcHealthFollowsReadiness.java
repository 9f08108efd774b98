package io.github.gracefulshutdown.grpc;

import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.atomic.AtomicBoolean;

import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.ApplicationEvent;
import org.springframework.context.event.SmartApplicationListener;
import org.springframework.grpc.server.lifecycle.GrpcServerStartedEvent;

/**
 * gRPC's health service says what readiness says: {@code NOT_SERVING} for the whole
 * server ({@code ""}) and for every service the gRPC servers serve as soon as readiness
 * becomes {@code REFUSING_TRAFFIC}, which is the first step of the shutdown, and
 * {@code SERVING} again if readiness goes back to {@code ACCEPTING_TRAFFIC}. So a client
 * or a load balancer that checks gRPC health stops sending calls here during the drain
 * delay, as a Kubernetes readiness probe stops HTTP traffic.
 * <p>
 * Spring Boot updates the same statuses from its health contributors every
 * {@code spring.grpc.server.health.schedule.period}; those follow readiness only when
 * the readiness contributor is registered ({@code management.endpoint.health.probes.enabled},
 * on by default on Kubernetes). Without it, Boot's next update may report
 * {@code SERVING} again during the drain delay. The terminal state of gRPC's health
 * service is not used: Spring Boot enters it itself as the context is destroyed, and a
 * second call logs a warning.
 */
public final class GrpcHealthFollowsReadiness implements SmartApplicationListener {

	private static final Log logger = LogFactory.getLog(GrpcHealthFollowsReadiness.class);

	private final ObjectProvider<HealthStatusManager> healthStatusManagers;

	private final Set<String> services = new CopyOnWriteArraySet<>();

	private final AtomicBoolean notServing = new AtomicBoolean();

	/**
	 * Creates the listener.
	 * @param healthStatusManagers the health services to update
	 */
	public GrpcHealthFollowsReadiness(ObjectProvider<HealthStatusManager> healthStatusManagers) {
		this.healthStatusManagers = healthStatusManagers;
	}

	@Override
	public boolean supportsEventType(Class<? extends ApplicationEvent> eventType) {
		return AvailabilityChangeEvent.class.isAssignableFrom(eventType)
				|| GrpcServerStartedEvent.class.isAssignableFrom(eventType);
	}

	@Override
	public void onApplicationEvent(ApplicationEvent event) {
		if (event instanceof GrpcServerStartedEvent started) {
			for (ServerServiceDefinition service : started.getServer().getServices()) {
				this.services.add(service.getServiceDescriptor().getName());
			}
			if (this.notServing.get()) {
				update(ServingStatus.NOT_SERVING);
			}
		}
		else if (event instanceof AvailabilityChangeEvent<?> change) {
			if (change.getState() == ReadinessState.REFUSING_TRAFFIC && this.notServing.compareAndSet(false, true)) {
				update(ServingStatus.NOT_SERVING);
			}
			else if (change.getState() == ReadinessState.ACCEPTING_TRAFFIC
					&& this.notServing.compareAndSet(true, false)) {
				update(ServingStatus.SERVING);
			}
		}
	}

	private void update(ServingStatus status) {
		this.healthStatusManagers.orderedStream().forEach((health) -> {
			health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, status);
			for (String service : this.services) {
				health.setStatus(service, status);
			}
		});
		if (logger.isDebugEnabled()) {
			logger.debug("gRPC health: " + status + " for the server and " + this.services.size() + " services "
					+ this.services + ", as readiness " + ((status == ServingStatus.SERVING) ? "accepts" : "refuses")
					+ " traffic");
		}
	}

}
