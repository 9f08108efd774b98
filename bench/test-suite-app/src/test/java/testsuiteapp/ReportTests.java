package testsuiteapp;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The {@code @Async} report and the background heartbeat. The context is dirtied: the
 * reports built here stay in {@link ReportService}, and no other test should see them.
 */
@SpringBootTest
@DirtiesContext
class ReportTests {

	@Autowired
	private ReportService reports;

	@Autowired
	private Heartbeat heartbeat;

	@Test
	void buildsAReportOffTheCallersThread() throws Exception {
		ReportService.Report report = this.reports.generate("q3").get(10, TimeUnit.SECONDS);
		assertThat(report.name()).isEqualTo("q3");
		assertThat(report.thread()).isNotEqualTo(Thread.currentThread().getName());
		assertThat(this.reports.generated()).containsExactly("q3");
	}

	@Test
	void heartbeatRuns() throws Exception {
		assertThat(this.heartbeat.awaitFirstBeat(Duration.ofSeconds(10))).isTrue();
		assertThat(this.heartbeat.beats()).isPositive();
	}

}
