package io.github.gracefulshutdown.metrics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.jayway.jsonpath.Configuration;
import com.jayway.jsonpath.DocumentContext;
import com.jayway.jsonpath.JsonPath;
import com.jayway.jsonpath.Option;
import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownGrpcAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownLifecycleAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownMetricsAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownRabbitAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownWebAutoConfiguration;
import io.grpc.BindableService;
import io.grpc.ServerServiceDefinition;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.assertj.core.api.SoftAssertions;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.autoconfigure.availability.ApplicationAvailabilityAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.autoconfigure.ssl.SslAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.grpc.server.autoconfigure.GrpcServerAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.prometheus.PrometheusMetricsExportAutoConfiguration;
import org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration;
import org.springframework.boot.tomcat.autoconfigure.servlet.TomcatServletWebServerAutoConfiguration;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code docs/grafana-dashboard.json} against a running application: every PromQL query
 * in it names series that the starter really registers, as a Prometheus registry scrapes
 * them (Micrometer's Prometheus naming adds unit and type suffixes that are easy to get
 * wrong by hand), with the labels the query selects and groups by; and every
 * {@code graceful_shutdown_*} meter is on some panel.
 */
class GrafanaDashboardTests {

	// Surefire runs in the module's directory.
	private static final Path DASHBOARD = Path.of("../docs/grafana-dashboard.json");

	private static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"");

	private static final Pattern VARIABLE = Pattern.compile("\\$\\{[^}]*}|\\$\\w+");

	private static final Pattern RANGE = Pattern.compile("\\[[^\\]]*]");

	private static final Pattern SELECTOR = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)?\\s*\\{([^}]*)}");

	private static final Pattern MATCHER = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(?:=~|!~|!=|=)");

	private static final Pattern GROUPING = Pattern
		.compile("\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\(([^)]*)\\)");

	// An identifier not inside a number (1e3) or a duration (5m): a function when a
	// parenthesis follows, else a keyword or a metric name.
	private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\\s*\\()?");

	private static final Set<String> KEYWORDS = Set.of("and", "or", "unless", "offset", "bool", "by", "without", "on",
			"ignoring", "group_left", "group_right", "inf", "nan", "Inf", "NaN");

	private static final Pattern LABEL_VALUES = Pattern
		.compile("label_values\\(\\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*(?:\\{[^}]*})?\\s*,\\s*([a-zA-Z_]\\w*)\\s*\\)");

	private static final Set<String> TARGET_LABELS = Set.of("job", "instance");

	private static final Pattern LEGEND_LABEL = Pattern.compile("\\{\\{\\s*([a-zA-Z_][a-zA-Z0-9_]*)\\s*}}");

	// Series name to the names of its labels, as Prometheus stores them.
	private static Map<String, Set<String>> scraped;

	@BeforeAll
	static void scrapeARunningApplication() throws Exception {
		try (ConfigurableApplicationContext context = new SpringApplicationBuilder(App.class)
			.web(WebApplicationType.SERVLET)
			.properties("spring.main.banner-mode=off", "server.address=127.0.0.1", "server.port=0",
					"spring.grpc.server.address=127.0.0.1", "spring.grpc.server.port=0")
			.run()) {
			assertThat(context.getBean(OnceJob.class).ran.await(10, TimeUnit.SECONDS)).as("the @Background job ran")
				.isTrue();
			PrometheusMeterRegistry prometheus = context.getBean(PrometheusMeterRegistry.class);
			awaitRecordedRun(prometheus);
			scraped = series(prometheus.scrape());
		}
	}

	@Test
	void everyQueryNamesSeriesThatTheStarterRegisters() throws IOException {
		List<Query> queries = queries();
		assertThat(queries).as("PromQL queries in %s", DASHBOARD).isNotEmpty();
		SoftAssertions softly = new SoftAssertions();
		for (Query query : queries) {
			softly.assertThat(query.labels().keySet())
				.as("metric names in %s: %s", query.where(), query.expr())
				.isNotEmpty();
			query.labels().forEach((name, labels) -> {
				softly.assertThat(scraped.keySet()).as("in %s: %s", query.where(), query.expr()).contains(name);
				if (scraped.containsKey(name)) {
					softly.assertThat(scraped.get(name))
						.as("labels of %s in %s: %s", name, query.where(), query.expr())
						.containsAll(labels);
				}
			});
			Set<String> available = new TreeSet<>();
			query.labels().keySet().forEach((name) -> available.addAll(scraped.getOrDefault(name, Set.of())));
			softly.assertThat(available)
				.as("labels grouped by in %s: %s", query.where(), query.expr())
				.containsAll(query.grouping());
			// After an aggregation only the labels it keeps are left for the legend.
			softly.assertThat(query.grouping().isEmpty() ? available : query.grouping())
				.as("labels in the legend of %s: %s", query.where(), query.expr())
				.containsAll(query.legend());
		}
		softly.assertAll();
	}

	@Test
	void everyMeterOfTheStarterIsOnAPanel() throws IOException {
		Set<String> onPanels = new TreeSet<>();
		for (Query query : queries()) {
			query.labels().keySet().stream().map(GrafanaDashboardTests::family).forEach(onPanels::add);
		}
		Set<String> families = new TreeSet<>();
		scraped.keySet()
			.stream()
			.filter((name) -> name.startsWith("graceful_shutdown_"))
			.map(GrafanaDashboardTests::family)
			.forEach(families::add);
		assertThat(families).as("meters scraped").isNotEmpty();
		assertThat(onPanels).as("meters that a query of %s reads through one of their series", DASHBOARD)
			.containsAll(families);
	}

	@Test
	void theDashboardImportsWithAPrometheusDataSource() throws IOException {
		DocumentContext dashboard = JsonPath.parse(Files.readString(DASHBOARD));
		List<Map<String, Object>> inputs = dashboard.read("$.__inputs");
		assertThat(inputs).singleElement().satisfies((input) -> {
			assertThat(input).containsEntry("name", "DS_PROMETHEUS")
				.containsEntry("type", "datasource")
				.containsEntry("pluginId", "prometheus");
		});
		// Not the annotations': Grafana's own built-in one.
		List<Object> uids = new ArrayList<>(dashboard.read("$.panels..datasource.uid"));
		uids.addAll(dashboard.read("$.templating.list[*].datasource.uid"));
		assertThat(uids).isNotEmpty().allSatisfy((uid) -> assertThat(uid).isEqualTo("${DS_PROMETHEUS}"));
		List<Integer> ids = dashboard.read("$..panels[*].id");
		assertThat(ids).doesNotHaveDuplicates();
		assertThat(dashboard.read("$.schemaVersion", Integer.class)).isGreaterThanOrEqualTo(36);
		assertThat(dashboard.read("$.uid", String.class)).isNotBlank();
	}

	/**
	 * A timer's or counter's family, the name a query may reach through any of its series.
	 */
	private static String family(String series) {
		return series.replaceFirst("(_active_count|_duration_sum|_count|_sum|_max|_total|_bucket)$", "");
	}

	private static void awaitRecordedRun(PrometheusMeterRegistry prometheus) {
		// The run's observation stops just after the method returns, on the job's thread.
		Awaitility.await("the run of 'once' recorded")
			.atMost(Duration.ofSeconds(10))
			.until(() -> {
				Timer returned = prometheus.find(GracefulShutdownMetrics.BACKGROUND_RUNS)
					.tags("job", "once", "outcome", "returned")
					.timer();
				return returned != null && returned.count() == 1;
			});
	}

	/**
	 * Every series of Prometheus' text format, with the names of its labels as Prometheus
	 * stores them by default ({@code honor_labels: false}): the target's {@code job} and
	 * {@code instance} are added, and a scraped label of the same name is renamed
	 * {@code exported_job} or {@code exported_instance}. The {@code job} tag of the
	 * background runs is therefore {@code exported_job} in a query.
	 */
	static Map<String, Set<String>> series(String exposition) {
		Map<String, Set<String>> series = new LinkedHashMap<>();
		Pattern label = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"(?:[^\"\\\\]|\\\\.)*\"");
		for (String line : exposition.split("\n")) {
			if (line.isBlank() || line.startsWith("#")) {
				continue;
			}
			int end = line.indexOf('{');
			end = (end < 0) ? line.indexOf(' ') : end;
			Set<String> labels = series.computeIfAbsent(line.substring(0, end), (name) -> new LinkedHashSet<>());
			int close = line.lastIndexOf('}');
			if (line.charAt(end) == '{' && close > end) {
				Matcher matcher = label.matcher(line.substring(end + 1, close));
				while (matcher.find()) {
					String name = matcher.group(1);
					labels.add(TARGET_LABELS.contains(name) ? "exported_" + name : name);
				}
			}
			labels.addAll(TARGET_LABELS);
		}
		return series;
	}

	/**
	 * The panels' PromQL queries and the templating's {@code label_values} queries.
	 */
	private static List<Query> queries() throws IOException {
		// A dashboard without panels or variables has no queries, which the tests report.
		DocumentContext dashboard = JsonPath
			.using(Configuration.defaultConfiguration().addOptions(Option.SUPPRESS_EXCEPTIONS))
			.parse(Files.readString(DASHBOARD));
		List<Query> queries = new ArrayList<>();
		List<Map<String, Object>> panels = dashboard.read("$..panels[?(@.targets)]");
		for (Map<String, Object> panel : panels) {
			List<Map<String, Object>> targets = JsonPath.read(panel, "$.targets[*]");
			for (Map<String, Object> target : targets) {
				Query query = parse("panel '" + panel.get("title") + "'", String.valueOf(target.get("expr")));
				Object legend = target.get("legendFormat");
				if (legend != null) {
					Matcher matcher = LEGEND_LABEL.matcher(legend.toString());
					while (matcher.find()) {
						query.legend().add(matcher.group(1));
					}
				}
				queries.add(query);
			}
		}
		List<Map<String, Object>> variables = dashboard.read("$.templating.list[?(@.type == 'query')]");
		for (Map<String, Object> variable : variables) {
			Object query = variable.get("query");
			String text = (query instanceof Map<?, ?> map) ? String.valueOf(map.get("query")) : String.valueOf(query);
			Matcher matcher = LABEL_VALUES.matcher(text);
			Map<String, Set<String>> labels = new LinkedHashMap<>();
			if (matcher.matches()) {
				labels.put(matcher.group(1), Set.of(matcher.group(2)));
			}
			queries.add(new Query("variable '" + variable.get("name") + "'", text, labels, Set.of(), new LinkedHashSet<>()));
		}
		return queries;
	}

	/**
	 * The metric names of a PromQL expression with the labels each is selected by, and
	 * the labels it is grouped or matched on.
	 */
	static Query parse(String where, String expr) {
		String rest = STRING.matcher(expr).replaceAll("\"\"");
		rest = VARIABLE.matcher(rest).replaceAll("");
		rest = RANGE.matcher(rest).replaceAll("");
		Map<String, Set<String>> labels = new LinkedHashMap<>();
		Matcher selector = SELECTOR.matcher(rest);
		StringBuilder withoutSelectors = new StringBuilder();
		while (selector.find()) {
			Set<String> matched = new LinkedHashSet<>();
			Matcher matcher = MATCHER.matcher(selector.group(2));
			while (matcher.find()) {
				matched.add(matcher.group(1));
			}
			if (selector.group(1) != null) {
				labels.computeIfAbsent(selector.group(1), (name) -> new LinkedHashSet<>()).addAll(matched);
			}
			// The name stays, for the pass below that finds names without selectors.
			selector.appendReplacement(withoutSelectors, Matcher.quoteReplacement(
					(selector.group(1) != null) ? selector.group(1) + " " : ""));
		}
		selector.appendTail(withoutSelectors);
		rest = withoutSelectors.toString();
		Set<String> grouping = new LinkedHashSet<>();
		Matcher group = GROUPING.matcher(rest);
		while (group.find()) {
			for (String label : group.group(1).split(",")) {
				if (!label.isBlank()) {
					grouping.add(label.strip());
				}
			}
		}
		rest = GROUPING.matcher(rest).replaceAll(" ");
		Matcher identifier = IDENTIFIER.matcher(rest);
		while (identifier.find()) {
			String name = identifier.group(1);
			if (identifier.group(2) == null && !KEYWORDS.contains(name)) {
				labels.computeIfAbsent(name, (key) -> new LinkedHashSet<>());
			}
		}
		return new Query(where, expr, labels, grouping, new LinkedHashSet<>());
	}

	/**
	 * One query of the dashboard.
	 * @param where the panel or variable it is in
	 * @param expr its text
	 * @param labels each metric name it reads, with the labels it selects that name by
	 * @param grouping the labels it aggregates or matches on
	 * @param legend the labels its legend shows
	 */
	record Query(String where, String expr, Map<String, Set<String>> labels, Set<String> grouping,
			Set<String> legend) {
	}

	@ImportAutoConfiguration({ LifecycleAutoConfiguration.class, ApplicationAvailabilityAutoConfiguration.class,
			SslAutoConfiguration.class, TomcatServletWebServerAutoConfiguration.class, GrpcServerAutoConfiguration.class,
			MetricsAutoConfiguration.class, PrometheusMetricsExportAutoConfiguration.class,
			ObservationAutoConfiguration.class, GracefulShutdownLifecycleAutoConfiguration.class,
			GracefulShutdownAutoConfiguration.class, GracefulShutdownWebAutoConfiguration.class,
			GracefulShutdownMetricsAutoConfiguration.class, GracefulShutdownRabbitAutoConfiguration.class,
			GracefulShutdownGrpcAutoConfiguration.class })
	static class App {

		@Bean
		OnceJob onceJob() {
			return new OnceJob();
		}

		// A gRPC server starts only with a service to serve.
		@Bean
		BindableService nothing() {
			return () -> ServerServiceDefinition.builder("dashboard.Nothing").build();
		}

	}

	static class OnceJob {

		final CountDownLatch ran = new CountDownLatch(1);

		@Background(name = "once")
		void once() {
			this.ran.countDown();
		}

	}

}
