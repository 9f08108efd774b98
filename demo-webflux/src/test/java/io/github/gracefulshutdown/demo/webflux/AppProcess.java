package io.github.gracefulshutdown.demo.webflux;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The WebFlux demo as a real, separate JVM (the repackaged jar with {@code java -jar},
 * or the test classpath, with the test JVM's own {@code java}). One daemon thread copies its merged stdout and stderr into a
 * log file and into memory. {@link #close()} kills it if it is still alive.
 */
final class AppProcess implements AutoCloseable {

	/** System property with the path of the repackaged jar, set by failsafe. */
	static final String JAR_PROPERTY = "demo.jar";

	/** System property with a directory for the captured output, set by failsafe. */
	static final String LOGS_PROPERTY = "demo.logs";

	private final Process process;

	private final Path logFile;

	private final Thread reader;

	// Completed with System.nanoTime() by the JDK's process reaper when the process exits.
	private final CompletableFuture<Long> exitNanos;

	// Guarded by itself; notified on every new line and at the end of the output.
	private final List<String> lines = new ArrayList<>();

	private boolean endOfOutput;

	private volatile long sigtermNanos = -1;

	private AppProcess(Process process, Path logFile) throws IOException {
		this.process = process;
		this.logFile = logFile;
		this.exitNanos = process.onExit().thenApply((exited) -> System.nanoTime());
		BufferedWriter log = Files.newBufferedWriter(logFile, StandardCharsets.UTF_8);
		this.reader = new Thread(() -> readOutput(log), "webflux-demo-output-" + process.pid());
		this.reader.setDaemon(true);
		this.reader.start();
	}

	static AppProcess start(Path jar, List<String> args) throws IOException {
		return start(List.of("-jar", jar.toString()), args);
	}

	/**
	 * Starts the app from this test JVM's own classpath (the app's classes and every
	 * dependency of the module, test scope included) rather than from its jar, without
	 * some of its jars: how the end-to-end test runs it on a server that the jar does not
	 * hold, and without the one it does.
	 * @param mainClass the application's main class
	 * @param leftOut which jars to leave out, by file name
	 * @param args the application's arguments
	 * @return the running process
	 */
	static AppProcess startFromTestClasspath(Class<?> mainClass, Predicate<String> leftOut, List<String> args)
			throws IOException {
		// Failsafe sets java.class.path to the test classpath in the JVM it forks.
		String classpath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
			.filter((entry) -> !leftOut.test(Path.of(entry).getFileName().toString()))
			.collect(Collectors.joining(File.pathSeparator));
		return start(List.of("-cp", classpath, mainClass.getName()), args);
	}

	private static AppProcess start(List<String> launch, List<String> args) throws IOException {
		List<String> command = new ArrayList<>();
		command.add(ProcessHandle.current()
			.info()
			.command()
			.orElseGet(() -> Path.of(System.getProperty("java.home"), "bin", "java").toString()));
		command.addAll(List.of("-XX:TieredStopAtLevel=1", "-Xshare:auto", "-Xmx256m"));
		command.addAll(launch);
		command.addAll(args);
		String logs = System.getProperty(LOGS_PROPERTY);
		Path logDirectory = Files.createDirectories((logs != null) ? Path.of(logs)
				: Path.of(System.getProperty("java.io.tmpdir"), "webflux-e2e-logs"));
		Path logFile = Files.createTempFile(logDirectory, "webflux-", ".log");
		ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
		// No platform, whatever the host: a CI runner inside Kubernetes would otherwise give
		// every shutdown the 5 s Kubernetes drain delay. A test's own argument still wins.
		builder.environment().put("SPRING_MAIN_CLOUD_PLATFORM", "none");
		Process process = builder.start();
		try {
			process.getOutputStream().close();
			return new AppProcess(process, logFile);
		}
		catch (IOException | RuntimeException ex) {
			process.destroyForcibly();
			throw ex;
		}
	}

	static Path jar() {
		String path = System.getProperty(JAR_PROPERTY);
		if (path == null) {
			throw new IllegalStateException("System property '" + JAR_PROPERTY
					+ "' is not set; run the end-to-end test with 'mvn verify' (maven-failsafe-plugin)");
		}
		Path jar = Path.of(path);
		if (!Files.isRegularFile(jar)) {
			throw new IllegalStateException("The jar " + jar + " does not exist; package demo-webflux first");
		}
		return jar;
	}

	private void readOutput(BufferedWriter log) {
		try (log;
				BufferedReader in = new BufferedReader(
						new InputStreamReader(this.process.getInputStream(), StandardCharsets.UTF_8))) {
			String line;
			while ((line = in.readLine()) != null) {
				log.write(line);
				log.newLine();
				log.flush();
				synchronized (this.lines) {
					this.lines.add(line);
					this.lines.notifyAll();
				}
			}
		}
		catch (IOException ex) {
			// Only close() kills the process while the stream is read; what was read is kept.
		}
		finally {
			synchronized (this.lines) {
				this.endOfOutput = true;
				this.lines.notifyAll();
			}
		}
	}

	/**
	 * Waits for the first line (printed at any time since the start) that matches.
	 * @param pattern what to find in the line
	 * @param timeout the longest time to wait
	 * @return the line, or {@code null} if the output ended or the timeout passed without it
	 */
	String awaitLine(Pattern pattern, Duration timeout) throws InterruptedException {
		long deadline = System.nanoTime() + timeout.toNanos();
		int checked = 0;
		synchronized (this.lines) {
			while (true) {
				for (; checked < this.lines.size(); checked++) {
					if (pattern.matcher(this.lines.get(checked)).find()) {
						return this.lines.get(checked);
					}
				}
				long left = deadline - System.nanoTime();
				if (this.endOfOutput || left <= 0) {
					return null;
				}
				TimeUnit.NANOSECONDS.timedWait(this.lines, left);
			}
		}
	}

	/**
	 * Waits until as many lines as given (printed at any time since the start) match.
	 * @param pattern what to find in the lines
	 * @param count how many lines
	 * @param timeout the longest time to wait
	 * @return whether that many matched before the output ended or the timeout passed
	 */
	boolean awaitLines(Pattern pattern, int count, Duration timeout) throws InterruptedException {
		long deadline = System.nanoTime() + timeout.toNanos();
		int checked = 0;
		int matched = 0;
		synchronized (this.lines) {
			while (true) {
				for (; checked < this.lines.size(); checked++) {
					if (pattern.matcher(this.lines.get(checked)).find() && ++matched == count) {
						return true;
					}
				}
				long left = deadline - System.nanoTime();
				if (this.endOfOutput || left <= 0) {
					return false;
				}
				TimeUnit.NANOSECONDS.timedWait(this.lines, left);
			}
		}
	}

	/**
	 * Sends SIGTERM with {@link ProcessHandle#destroy()}: {@code Process.destroy()} would
	 * also close our end of the app's output, and lose what it logs while it shuts down.
	 */
	long sigterm() {
		long now = System.nanoTime();
		this.sigtermNanos = now;
		if (!this.process.toHandle().destroy()) {
			throw new AssertionError("Could not send SIGTERM to " + this);
		}
		return now;
	}

	/**
	 * Waits for the process to exit after {@link #sigterm()} and for the rest of its output.
	 * @param timeout the longest time to wait
	 * @return how long it took to exit after SIGTERM, or {@code null} if it is still alive
	 */
	Duration awaitExit(Duration timeout) throws InterruptedException {
		try {
			long exitedAt = this.exitNanos.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
			this.reader.join(TimeUnit.SECONDS.toMillis(10));
			return Duration.ofNanos(exitedAt - this.sigtermNanos);
		}
		catch (TimeoutException ex) {
			return null;
		}
		catch (ExecutionException ex) {
			throw new IllegalStateException(ex.getCause());
		}
	}

	/**
	 * Waits a little for the process to exit and its output to end, after it failed on
	 * its own.
	 * @param timeout the longest time to wait for each
	 */
	void awaitDeath(Duration timeout) throws InterruptedException {
		this.process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
		this.reader.join(timeout.toMillis());
	}

	String state() {
		return this.process.isAlive() ? "still alive" : "exited with " + this.process.exitValue();
	}

	boolean isAlive() {
		return this.process.isAlive();
	}

	List<String> lines() {
		synchronized (this.lines) {
			return List.copyOf(this.lines);
		}
	}

	/**
	 * Returns the last lines printed, for failure messages.
	 * @param count how many lines
	 * @return the lines, with a heading that names the full log file
	 */
	String tail(int count) {
		List<String> all = lines();
		List<String> last = all.subList(Math.max(0, all.size() - count), all.size());
		return "\n---- app log: last " + last.size() + " of " + all.size() + " lines (full log in " + this.logFile
				+ ") ----\n" + String.join("\n", last);
	}

	@Override
	public void close() throws InterruptedException {
		if (this.process.isAlive()) {
			this.process.destroyForcibly();
			this.process.waitFor(30, TimeUnit.SECONDS);
		}
		this.reader.join(TimeUnit.SECONDS.toMillis(10));
	}

	@Override
	public String toString() {
		return "WebFlux demo (pid " + this.process.pid() + ")";
	}

}
