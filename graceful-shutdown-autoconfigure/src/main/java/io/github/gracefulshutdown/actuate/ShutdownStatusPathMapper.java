package io.github.gracefulshutdown.actuate;

import org.springframework.boot.actuate.endpoint.EndpointId;
import org.springframework.boot.actuate.endpoint.web.PathMapper;
import org.springframework.core.env.Environment;

/**
 * Maps the {@code shutdownStatus} endpoint to {@code shutdown-status}, so users get that
 * path without a setting of their own and without Spring Boot's warning
 * about a {@code -} in an endpoint id. A user's own
 * {@code management.endpoints.web.path-mapping.shutdownStatus} still wins.
 */
public final class ShutdownStatusPathMapper implements PathMapper {

	private static final EndpointId ID = EndpointId.of(ShutdownStatusEndpoint.ID);

	private final Environment environment;

	/**
	 * Creates the mapper.
	 * @param environment where a user's own mapping would be
	 */
	public ShutdownStatusPathMapper(Environment environment) {
		this.environment = environment;
	}

	@Override
	public String getRootPath(EndpointId endpointId) {
		if (!ID.equals(endpointId)
				|| this.environment.containsProperty("management.endpoints.web.path-mapping." + ShutdownStatusEndpoint.ID)) {
			return null;
		}
		return ShutdownStatusEndpoint.PATH;
	}

}
