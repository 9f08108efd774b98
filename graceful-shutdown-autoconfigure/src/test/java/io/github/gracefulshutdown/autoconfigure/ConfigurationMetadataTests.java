package io.github.gracefulshutdown.autoconfigure;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;

import com.jayway.jsonpath.JsonPath;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The metadata the build writes: IDEs complete and document every property from it, and
 * Spring Boot reads the auto-configurations' conditions from it at startup. javac on
 * JDK 23+ writes neither unless the build declares the processors, so this runs on every
 * JDK the build is tested on.
 */
class ConfigurationMetadataTests {

	// drain-delay has none of its own: 5s on Kubernetes, 0s elsewhere (DrainDelayTests).
	private static final Map<String, Object> DEFAULTS = Map.of("graceful-shutdown.enabled", true,
			"graceful-shutdown.drain-delay-in-tests", false, "graceful-shutdown.interrupt-stragglers", true,
			"graceful-shutdown.progress-log-interval", "1s", "graceful-shutdown.restart-backoff.initial", "1s",
			"graceful-shutdown.restart-backoff.max", "1m", "graceful-shutdown.track-async", true,
			"graceful-shutdown.second-signal", "auto", "graceful-shutdown.watchdog-margin", "5s",
			"graceful-shutdown.stop-consuming", "immediately");

	@Test
	void everyPropertyIsDescribedWithItsDefault() throws IOException {
		List<Map<String, Object>> properties = JsonPath.read(read("META-INF/spring-configuration-metadata.json"),
				"$.properties");
		Map<String, Map<String, Object>> byName = properties.stream()
			.filter((property) -> ((String) property.get("name")).startsWith("graceful-shutdown."))
			.collect(Collectors.toMap((property) -> (String) property.get("name"), (property) -> property));
		assertThat(byName.keySet()).as("graceful-shutdown properties in the metadata")
			.containsExactlyInAnyOrderElementsOf(
					java.util.stream.Stream.concat(DEFAULTS.keySet().stream(), java.util.stream.Stream.of("graceful-shutdown.drain-delay")).toList());
		assertThat(byName.get("graceful-shutdown.drain-delay")).doesNotContainKey("defaultValue");
		assertThat((String) byName.get("graceful-shutdown.drain-delay").get("description"))
			.contains("5s when Spring Boot detects Kubernetes, 0s elsewhere");
		DEFAULTS.forEach((name, defaultValue) -> {
			Map<String, Object> property = byName.get(name);
			assertThat((String) property.get("description")).as("description of " + name).isNotBlank();
			assertThat(property.get("defaultValue")).as("default of " + name).isEqualTo(defaultValue);
		});
		// It ships to every IDE: it must say what stays when it is false.
		assertThat((String) byName.get("graceful-shutdown.enabled").get("description"))
			.contains("The token and the JobRegistry remain injectable");
	}

	@Test
	void theAutoConfigurationsConditionsAreWrittenDown() throws IOException {
		Properties metadata = new Properties();
		metadata.load(new java.io.StringReader(read("META-INF/spring-autoconfigure-metadata.properties")));
		assertThat(metadata.stringPropertyNames())
			.contains(GracefulShutdownWebAutoConfiguration.class.getName() + ".ConditionalOnClass");
	}

	// Ours, not the first of that name on the classpath: Spring Boot's jars have theirs.
	private static String read(String resource) throws IOException {
		URL classes = GracefulShutdownAutoConfiguration.class.getProtectionDomain().getCodeSource().getLocation();
		try (URLClassLoader ours = new URLClassLoader(new URL[] { classes }, null);
				InputStream in = ours.getResourceAsStream(resource)) {
			assertThat(in).as(resource + " written by the build in " + classes).isNotNull();
			return new String(in.readAllBytes(), StandardCharsets.UTF_8);
		}
	}

}
