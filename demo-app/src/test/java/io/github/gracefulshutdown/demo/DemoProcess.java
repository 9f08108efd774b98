package io.github.gracefulshutdown.demo;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The demo app running as a real, separate JVM: {@code java -jar <demo.jar> args...},
 * started with the same {@code java} binary as the test JVM.
 * <p>
 * One daemon thread reads the merged stdout and stderr line by line into a log file and
 * into memory; {@link #awaitLine} is woken by every new line (and by the end of the
 * output), it never polls. {@link #sigterm()} sends a real SIGTERM and {@link #awaitExit}
 * reports how long the process took to exit after it.
 * {@link #close()} kills the process if it is still alive, so no test leaves one behind.
 */
final class DemoProcess implements AutoCloseable {

	/** System property with the path of the repackaged demo jar, set by failsafe. */
	static final String JAR_PROPERTY = "demo.jar";

	/** System property with a directory for the captured output, set by failsafe. */
	static final String LOGS_PROPERTY = "demo.logs";

	private static final Pattern HTTP_PORT = Pattern.compile("Tomcat started on port (\\d+) \\(http\\)");

	private final String name;

	private final Process process;

	private final Path logFile;

	private final Thread reader;

	// Completed with System.nanoTime() by the JDK's process reaper when the process exits.
	private final CompletableFuture<Long> exitNanos;

	// Guarded by itself; notified on every new line and at the end of the output.
	private final List<String> lines = new ArrayList<>();

	private boolean endOfOutput;

	private volatile IOException readFailure;

	private volatile long sigtermNanos = -1;

	private volatile long sigtermEpochMillis = -1;

	private DemoProcess(String name, Process process, Path logFile) throws IOException {
		this.name = name;
		this.process = process;
		this.logFile = logFile;
		this.exitNanos = process.onExit().thenApply((exited) -> System.nanoTime());
		BufferedWriter log = Files.newBufferedWriter(logFile, StandardCharsets.UTF_8);
		this.reader = new Thread(() -> readOutput(log), "demo-output-" + name + "-" + process.pid());
		this.reader.setDaemon(true);
		this.reader.start();
	}

	/**
	 * Starts {@code java -jar <demo.jar> args...}.
	 * @param name a short name for the log file and the reader thread
	 * @param args the application's arguments
	 * @return the running process
	 */
	static DemoProcess start(String name, List<String> args) throws IOException {
		return start(name, List.of(), args);
	}

	/**
	 * Starts {@code java jvmOptions... -jar <demo.jar> args...}.
	 * @param name a short name for the log file and the reader thread
	 * @param jvmOptions options for the JVM, before {@code -jar}
	 * @param args the application's arguments
	 * @return the running process
	 */
	static DemoProcess start(String name, List<String> jvmOptions, List<String> args) throws IOException {
		Path jar = jar();
		List<String> command = new ArrayList<>();
		command.add(javaBinary());
		command.add("-XX:TieredStopAtLevel=1");
		command.add("-Xshare:auto");
		command.add("-Xmx256m");
		command.addAll(jvmOptions);
		command.add("-jar");
		command.add(jar.toString());
		if (Runtime.version().feature() >= 21) {
			// On JDK 21+ (CI's second run is on 25) the jobs and Tomcat run on virtual threads.
			command.add("--spring.threads.virtual.enabled=true");
		}
		command.addAll(args);
		Path logFile = Files.createTempFile(logDirectory(), name + "-", ".log");
		ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
		// No platform, whatever the host: a CI runner inside Kubernetes would otherwise give
		// every shutdown the 5 s Kubernetes drain delay. A test's own argument still wins.
		builder.environment().put("SPRING_MAIN_CLOUD_PLATFORM", "none");
		Process process = builder.start();
		try {
			// Nothing is ever typed into the app.
			process.getOutputStream().close();
			return new DemoProcess(name, process, logFile);
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
					+ "' is not set; run the end-to-end tests with 'mvn verify' (maven-failsafe-plugin)");
		}
		Path jar = Path.of(path);
		if (!Files.isRegularFile(jar)) {
			throw new IllegalStateException("The demo jar " + jar + " does not exist; package the demo-app first");
		}
		return jar;
	}

	private static String javaBinary() {
		return ProcessHandle.current()
			.info()
			.command()
			.orElseGet(() -> Path.of(System.getProperty("java.home"), "bin", "java").toString());
	}

	private static Path logDirectory() throws IOException {
		String configured = System.getProperty(LOGS_PROPERTY);
		Path directory = (configured != null) ? Path.of(configured)
				: Path.of(System.getProperty("java.io.tmpdir"), "demo-e2e-logs");
		return Files.createDirectories(directory);
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
			this.readFailure = ex;
		}
		finally {
			synchronized (this.lines) {
				this.endOfOutput = true;
				this.lines.notifyAll();
			}
		}
	}

	/**
	 * Waits until a line containing the given text has been printed (at any time since
	 * the start).
	 * @param text the text to look for
	 * @param timeout the longest time to wait
	 * @return the first matching line
	 * @throws AssertionError if the timeout passes or the output ends without it
	 */
	String awaitLine(String text, Duration timeout) throws InterruptedException {
		return awaitLine("a line containing \"" + text + "\"", (line) -> line.contains(text), timeout);
	}

	/**
	 * Waits until a line matching the predicate has been printed (at any time since the
	 * start).
	 * @param description what is awaited, for the failure message
	 * @param predicate the condition on a line
	 * @param timeout the longest time to wait
	 * @return the first matching line
	 * @throws AssertionError if the timeout passes or the output ends without it
	 */
	String awaitLine(String description, Predicate<String> predicate, Duration timeout) throws InterruptedException {
		long deadline = System.nanoTime() + timeout.toNanos();
		int checked = 0;
		synchronized (this.lines) {
			while (true) {
				for (; checked < this.lines.size(); checked++) {
					String line = this.lines.get(checked);
					if (predicate.test(line)) {
						return line;
					}
				}
				if (this.endOfOutput) {
					throw new AssertionError("The output of " + this + " ended without " + description + "; "
							+ exitDescription() + "\n" + tail(60));
				}
				long left = deadline - System.nanoTime();
				if (left <= 0) {
					throw new AssertionError("No " + description + " from " + this + " within " + timeout + "\n"
							+ tail(60));
				}
				TimeUnit.NANOSECONDS.timedWait(this.lines, left);
			}
		}
	}

	/**
	 * Waits until the output has ended: the process has closed its stdout and stderr
	 * (it is gone) and every line it printed has been read and written to the log file.
	 * @param timeout the longest time to wait
	 * @throws AssertionError if the timeout passes first
	 */
	void awaitEndOfOutput(Duration timeout) throws InterruptedException {
		long deadline = System.nanoTime() + timeout.toNanos();
		synchronized (this.lines) {
			while (!this.endOfOutput) {
				long left = deadline - System.nanoTime();
				if (left <= 0) {
					throw new AssertionError("The output of " + this + " did not end within " + timeout + "; "
							+ exitDescription() + "\n" + tail(60));
				}
				TimeUnit.NANOSECONDS.timedWait(this.lines, left);
			}
		}
	}

	/**
	 * Waits until the journal the app writes satisfies the condition. The journal is a
	 * file written by another process, so it is read again every 50 ms at most.
	 * @param journal the journal file
	 * @param description what is awaited, for the failure message
	 * @param condition the condition on the journal
	 * @param timeout the longest time to wait
	 * @return the journal that satisfied the condition
	 * @throws AssertionError if the timeout passes or the process exits first
	 */
	JournalFile awaitJournal(Path journal, String description, Predicate<JournalFile> condition, Duration timeout)
			throws IOException, InterruptedException {
		long deadline = System.nanoTime() + timeout.toNanos();
		while (true) {
			JournalFile read = JournalFile.read(journal);
			if (condition.test(read)) {
				return read;
			}
			if (!this.process.isAlive()) {
				throw new AssertionError(this + " exited while waiting for the journal to show " + description + "; "
						+ exitDescription() + "\n" + read + "\n" + tail(60));
			}
			if (System.nanoTime() - deadline > 0) {
				throw new AssertionError("The journal " + journal + " did not show " + description + " within "
						+ timeout + "\n" + read + "\n" + tail(60));
			}
			Thread.sleep(50);
		}
	}

	/**
	 * Sends SIGTERM and remembers when, on the wall clock too so it can be compared with
	 * the journal's timestamps.
	 * <p>
	 * The signal is sent with {@link ProcessHandle#destroy()}, not {@link Process#destroy()}:
	 * both send SIGTERM on Linux, but {@code Process.destroy()} also closes our end of
	 * the child's stdout and stderr right after signalling, so everything the app logs
	 * while it shuts down (the very thing under test) would be lost.
	 * @return the epoch millis at which SIGTERM was sent
	 */
	long sigterm() {
		if (!this.process.isAlive()) {
			throw new AssertionError(this + " exited before SIGTERM; " + exitDescription() + "\n" + tail(60));
		}
		this.sigtermEpochMillis = System.currentTimeMillis();
		this.sigtermNanos = System.nanoTime();
		if (!this.process.toHandle().destroy()) {
			throw new AssertionError("Could not send SIGTERM to " + this);
		}
		return this.sigtermEpochMillis;
	}

	long sigtermEpochMillis() {
		return this.sigtermEpochMillis;
	}

	/**
	 * Waits for the process to exit after {@link #sigterm()}, and for the rest of its
	 * output to be read.
	 * @param timeout the longest time to wait
	 * @return how long the process took to exit after SIGTERM
	 * @throws AssertionError if it is still alive after the timeout, or its output does
	 * not end within 10 s of the exit
	 */
	Duration awaitExit(Duration timeout) throws InterruptedException {
		if (this.sigtermNanos < 0) {
			throw new IllegalStateException("SIGTERM was not sent");
		}
		long exitedAt;
		try {
			exitedAt = this.exitNanos.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
		}
		catch (TimeoutException ex) {
			throw new AssertionError(this + " did not exit within " + timeout + " of SIGTERM\n" + tail(60));
		}
		catch (ExecutionException ex) {
			throw new IllegalStateException(ex.getCause());
		}
		// The pipe is at its end once the process is gone; read what is left of it.
		awaitEndOfOutput(Duration.ofSeconds(10));
		return Duration.ofNanos(exitedAt - this.sigtermNanos);
	}

	int exitValue() {
		return this.process.exitValue();
	}

	boolean isAlive() {
		return this.process.isAlive();
	}

	/**
	 * Waits for Tomcat's {@code Tomcat started on port N (http)} line and returns the
	 * port it bound (with {@code --server.port=0}, a free one).
	 * @param timeout the longest time to wait
	 * @return the port
	 */
	int awaitHttpPort(Duration timeout) throws InterruptedException {
		return tomcatPort(awaitLine("Tomcat's 'started on port' line", (candidate) -> tomcatPort(candidate) > 0,
				timeout));
	}

	/**
	 * Returns the port a {@code Tomcat started on port N (http)} line names.
	 * @param line a log line
	 * @return the port, or -1 if the line is not one of those
	 */
	static int tomcatPort(String line) {
		Matcher matcher = HTTP_PORT.matcher(line);
		return matcher.find() ? Integer.parseInt(matcher.group(1)) : -1;
	}

	/**
	 * Returns every line printed so far.
	 * @return a snapshot of the lines
	 */
	List<String> lines() {
		synchronized (this.lines) {
			return List.copyOf(this.lines);
		}
	}

	/**
	 * Returns everything printed so far, one line per line.
	 * @return the output
	 */
	String output() {
		return String.join("\n", lines());
	}

	Path logFile() {
		return this.logFile;
	}

	/**
	 * Returns the last lines printed, for failure messages.
	 * @param count how many lines
	 * @return the lines, with a heading that names the full log file
	 */
	String tail(int count) {
		List<String> all = lines();
		List<String> last = all.subList(Math.max(0, all.size() - count), all.size());
		IOException failure = this.readFailure;
		return "---- last " + last.size() + " of " + all.size() + " lines (full output in " + this.logFile
				+ ((failure != null) ? "; reading the output failed: " + failure : "") + ") ----\n"
				+ String.join("\n", last);
	}

	private String exitDescription() {
		return this.process.isAlive() ? "the process is still alive" : "exit value " + this.process.exitValue();
	}

	@Override
	public void close() throws InterruptedException {
		if (this.process.isAlive()) {
			this.process.destroyForcibly();
			if (!this.process.waitFor(30, TimeUnit.SECONDS)) {
				throw new IllegalStateException("Could not kill " + this);
			}
		}
		this.reader.join(TimeUnit.SECONDS.toMillis(10));
	}

	@Override
	public String toString() {
		return "demo app '" + this.name + "' (pid " + this.process.pid() + ")";
	}

}
