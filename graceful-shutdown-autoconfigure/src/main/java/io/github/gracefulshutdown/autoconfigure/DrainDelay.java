package io.github.gracefulshutdown.autoconfigure;

import java.time.Duration;

import org.jspecify.annotations.Nullable;

import org.springframework.boot.cloud.CloudPlatform;
import org.springframework.boot.context.properties.source.ConfigurationProperty;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertySource;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.origin.Origin;
import org.springframework.boot.origin.PropertySourceOrigin;
import org.springframework.core.env.Environment;

/**
 * The drain delay that applies, and where it came from, for the startup budget line:
 * a load balancer needs it, so Kubernetes gets one by default and a test, which has none,
 * gets none.
 *
 * @param value the delay
 * @param source where it came from, as the budget line says it
 */
record DrainDelay(Duration value, String source) {

	static final Duration KUBERNETES_DEFAULT = Duration.ofSeconds(5);

	private static final ConfigurationPropertyName PROPERTY = ConfigurationPropertyName
		.of(GracefulShutdownProperties.PREFIX + ".drain-delay");

	/**
	 * Resolves the delay: a test context skips it unless asked; otherwise the property if
	 * set, else 5 s on Kubernetes, else none.
	 * @param properties the bound properties
	 * @param environment the environment, for the platform and the property's origin
	 * @param testContext whether Spring's TestContext framework manages this context
	 */
	static DrainDelay resolve(GracefulShutdownProperties properties, Environment environment, boolean testContext) {
		DrainDelay configured = configured(properties.getDrainDelay(), environment);
		if (testContext && !properties.isDrainDelayInTests() && !configured.value().isZero()) {
			return new DrainDelay(Duration.ZERO, "skipped in a test context, where it would be " + seconds(configured.value())
					+ " from " + configured.source() + "; " + GracefulShutdownProperties.PREFIX
					+ ".drain-delay-in-tests=true keeps it");
		}
		return configured;
	}

	private static DrainDelay configured(@Nullable Duration drainDelay, Environment environment) {
		if (drainDelay != null) {
			return new DrainDelay(drainDelay, origin(environment));
		}
		if (CloudPlatform.getActive(environment) == CloudPlatform.KUBERNETES) {
			return new DrainDelay(KUBERNETES_DEFAULT, "the default on Kubernetes");
		}
		return new DrainDelay(Duration.ZERO, "the default outside Kubernetes");
	}

	// Names the property and, as Spring Boot's failure analysis does, where its value
	// came from: a file and line, an environment variable, the command line.
	private static String origin(Environment environment) {
		for (ConfigurationPropertySource source : ConfigurationPropertySources.get(environment)) {
			ConfigurationProperty property = source.getConfigurationProperty(PROPERTY);
			if (property != null) {
				Origin origin = property.getOrigin();
				// A file's origin (name and line) comes wrapped in its property source's,
				// whose own name is long and says less.
				if (origin instanceof PropertySourceOrigin inSource) {
					origin = inSource.getOrigin();
					if (origin == null) {
						return PROPERTY + " in property source '" + inSource.getPropertySource().getName() + "'";
					}
				}
				return PROPERTY + ((origin != null) ? " in " + origin : "");
			}
		}
		return PROPERTY.toString();
	}

	private static String seconds(Duration duration) {
		return (duration.toMillis() % 1000 == 0) ? duration.toSeconds() + " s" : duration.toMillis() + " ms";
	}

}
