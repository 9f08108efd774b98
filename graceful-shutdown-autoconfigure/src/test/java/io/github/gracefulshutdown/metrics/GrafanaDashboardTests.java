package io.github.gracefulshutdown.metrics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.jayway.jsonpath.JsonPath;
import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownGrpcAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownJmsAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownMetricsAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownWebAutoConfiguration;
import io.grpc.BindableService;
import io.grpc.ServerServiceDefinition;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.availability.ApplicationAvailabilityAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.autoconfigure.ssl.SslAutoConfiguration;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.grpc.server.autoconfigure.GrpcServerAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.prometheus.PrometheusMetricsExportAutoConfiguration;
import org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

/**
 * The Grafana dashboard in {@code docs/} against a real Prometheus scrape: every metric a
 * query names must be one the starter exposes, and every family the starter exposes must
 * be on the dashboard, so a renamed meter breaks this test rather than a user's panel.
 */
class GrafanaDashboardTests {

	// Surefire runs in the module's directory; the dashboard lives beside the modules.
	private static final Path DASHBOARD = Path.of("..", "docs", "grafana-dashboard.json");

	private static final Pattern METRIC = Pattern.compile("\\bgraceful_shutdown_[a-zA-Z0-9_]+");

	// A sample line of the text format: the name, then labels or the value.
	private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]");

	private static final Pattern TYPE = Pattern.compile("^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ");

	/** Each family the scrape lists, with the names of its samples. */
	private static Map<String, Set<String>> families;

	private static String scrape;

	@BeforeAll
	static void scrapeARealApplication() {
		// Everything that registers a graceful.shutdown meter: a servlet application
		// (requests), a JMS listener participant (messages), a gRPC server (calls), and a
		// @Background job that has run once, observed through Spring Boot's own metrics
		// and observation auto-configuration into a Prometheus registry.
		new WebApplicationContextRunner()
			.withConfiguration(AutoConfigurations.of(LifecycleAutoConfiguration.class,
					ApplicationAvailabilityAutoConfiguration.class, SslAutoConfiguration.class,
					GrpcServerAutoConfiguration.class, ObservationAutoConfiguration.class,
					MetricsAutoConfiguration.class, PrometheusMetricsExportAutoConfiguration.class,
					CompositeMeterRegistryAutoConfiguration.class, GracefulShutdownAutoConfiguration.class,
					GracefulShutdownWebAutoConfiguration.class, GracefulShutdownJmsAutoConfiguration.class,
					GracefulShutdownGrpcAutoConfiguration.class, GracefulShutdownMetricsAutoConfiguration.class))
			.withPropertyValues("spring.grpc.server.address=127.0.0.1", "spring.grpc.server.port=0",
					"spring.grpc.server.servlet.enabled=false")
			.withBean(BindableService.class, () -> () -> ServerServiceDefinition.builder("dashboard.Noop").build())
			.withBean(RunsOnce.class)
			.run((context) -> {
				assertThat(context).hasNotFailed();
				context.publishEvent(new ApplicationReadyEvent(new SpringApplication(), new String[0],
						context.getSourceApplicationContext(), Duration.ZERO));
				assertThat(context.getBean(RunsOnce.class).ran.await(10, TimeUnit.SECONDS))
					.isTrue();
				MeterRegistry meters = context.getBean(MeterRegistry.class);
				// The run's observation stops just after the method returns.
				await().atMost(Duration.ofSeconds(10))
					.until(() -> meters.get(GracefulShutdownMetrics.BACKGROUND_RUNS)
						.tags("job", "runs-once", "outcome", "returned")
						.timer()
						.count() == 1);
				scrape = context.getBean(PrometheusMeterRegistry.class).scrape();
			});
		families = families(scrape);
	}

	@Test
	void everyQueryNamesAMetricTheStarterExposes() throws IOException {
		Map<String, String> used = metricsInQueries();
		Set<String> exposed = new TreeSet<>();
		families.values().forEach(exposed::addAll);
		Map<String, String> unknown = new TreeMap<>(used);
		unknown.keySet().removeAll(exposed);
		assertThat(unknown).as("metrics that the dashboard's queries name but a Prometheus scrape of the starter "
				+ "does not list (name -> first query), against the exposed %s", exposed).isEmpty();
	}

	@Test
	void everyFamilyTheStarterExposesIsOnTheDashboard() throws IOException {
		Set<String> used = metricsInQueries().keySet();
		Set<String> missing = new TreeSet<>();
		families.forEach((family, samples) -> {
			if (samples.stream().noneMatch(used::contains)) {
				missing.add(family);
			}
		});
		assertThat(families).as("graceful_shutdown_ families in the scrape").isNotEmpty();
		assertThat(missing).as("families that the starter exposes and no query of the dashboard shows").isEmpty();
	}

	/** Every graceful_shutdown_ name in a panel's or a variable's query, with a query that names it. */
	private static Map<String, String> metricsInQueries() throws IOException {
		if (!Files.isRegularFile(DASHBOARD)) {
			fail("No Grafana dashboard at " + DASHBOARD.toAbsolutePath().normalize());
		}
		String json = Files.readString(DASHBOARD);
		// $..targets reaches the panels nested in collapsed rows too.
		List<String> queries = new ArrayList<>(JsonPath.<List<String>>read(json, "$..targets[*].expr"));
		assertThat(queries).as("queries of the panels in %s", DASHBOARD).isNotEmpty();
		queries.addAll(JsonPath.<List<Object>>read(json, "$.templating.list[*].query")
			.stream()
			.map((query) -> (query instanceof Map<?, ?> map) ? String.valueOf(map.get("query")) : String.valueOf(query))
			.toList());
		Map<String, String> used = new LinkedHashMap<>();
		for (String query : queries) {
			Matcher metric = METRIC.matcher(query);
			boolean any = false;
			while (metric.find()) {
				used.putIfAbsent(metric.group(), query);
				any = true;
			}
			assertThat(any).as("query names no graceful_shutdown_ metric: %s", query).isTrue();
		}
		return used;
	}

	private static Map<String, Set<String>> families(String scrape) {
		Map<String, Set<String>> families = new TreeMap<>();
		String family = null;
		for (String line : scrape.split("\n")) {
			Matcher type = TYPE.matcher(line);
			if (type.find()) {
				family = type.group(1);
				continue;
			}
			Matcher sample = SAMPLE.matcher(line);
			if (family != null && family.startsWith("graceful_shutdown_") && sample.find()) {
				families.computeIfAbsent(family, (name) -> new TreeSet<>()).add(sample.group(1));
			}
		}
		return families;
	}

	static class RunsOnce {

		final CountDownLatch ran = new CountDownLatch(1);

		@Background(name = "runs-once")
		void run() {
			this.ran.countDown();
		}

	}

}
