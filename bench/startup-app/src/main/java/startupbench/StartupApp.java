package startupbench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;

import jdk.jfr.FlightRecorder;
import jdk.jfr.Recording;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.metrics.buffering.BufferingApplicationStartup;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.metrics.ApplicationStartup;

/**
 * A minimal web app with actuator that exits as soon as it is ready, so that a start can
 * be timed from outside. {@link SpringApplication#run} returns right after the
 * {@code ApplicationReadyEvent}; the JVM is then halted, so no shutdown work (ours or
 * Spring's) is part of the measured time. It prints
 * {@code READY beans=N main_cpu_ms=M} first: M is the CPU time of the main thread, which
 * does nearly all of the startup work, up to that point.
 * <p>
 * System properties:
 * <ul>
 * <li>{@code startup.steps=true}: record every startup step with a
 * {@link BufferingApplicationStartup} (and its CPU time: {@link CpuTimingStartup}), time
 * the calls into the starter's bean
 * post-processors, and print both (see {@link StepReport}) before exiting;</li>
 * <li>{@code startup.skip-scan=true}: the starter's {@code BackgroundJobProcessor} does
 * not look for {@code @Background} methods (see {@link PostProcessorTimer}), to measure
 * what that scan costs;</li>
 * <li>{@code startup.jfr=FILE}: dump the flight recording started with
 * {@code -XX:StartFlightRecording} to FILE once ready;</li>
 * <li>{@code startup.stay=true}: do not exit once ready.</li>
 * </ul>
 */
@SpringBootApplication(proxyBeanMethods = false)
public class StartupApp {

	/** Bean names, types and step tags in this package count as the starter's. */
	static final String OURS = "io.github.gracefulshutdown";

	public static void main(String[] args) {
		SpringApplication application = new SpringApplication(StartupApp.class);
		CpuTimingStartup steps = null;
		PostProcessorTimer timer = null;
		boolean skipScan = Boolean.getBoolean("startup.skip-scan");
		if (Boolean.getBoolean("startup.steps")) {
			steps = new CpuTimingStartup(new BufferingApplicationStartup(50_000));
			application.setApplicationStartup(steps);
		}
		if (steps != null || skipScan) {
			timer = new PostProcessorTimer(OURS, (steps != null) ? steps : ApplicationStartup.DEFAULT, skipScan);
			application.addInitializers(timer);
		}
		ConfigurableApplicationContext context = application.run(args);
		long mainCpuNanos = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
		System.out.println("READY beans=" + context.getBeanDefinitionCount() + " main_cpu_ms=" + mainCpuNanos / 1_000_000);
		if (steps != null) {
			new StepReport(OURS, steps, context.getBeanFactory(), timer).print(System.out);
		}
		String jfr = System.getProperty("startup.jfr");
		if (jfr != null) {
			dumpFlightRecordings(Path.of(jfr));
		}
		System.out.flush();
		if (!Boolean.getBoolean("startup.stay")) {
			Runtime.getRuntime().halt(0);
		}
	}

	/**
	 * Writes what the recordings started with {@code -XX:StartFlightRecording} hold so far:
	 * halting skips the dump JFR would make at exit, and the recording stops at "ready".
	 */
	private static void dumpFlightRecordings(Path file) {
		try {
			for (Recording recording : FlightRecorder.getFlightRecorder().getRecordings()) {
				recording.dump(file);
			}
		}
		catch (IOException | RuntimeException ex) {
			System.out.println("JFR dump failed: " + ex);
		}
	}

}
