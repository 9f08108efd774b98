package io.github.gracefulshutdown.signal;

import java.io.Console;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;
import java.util.function.Supplier;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Makes a second SIGTERM or SIGINT halt the process at once, the way a Go command line
 * tool does when Ctrl-C is pressed twice, and lets the first one run an action before the
 * JVM starts to shut down.
 * <p>
 * The JVM takes no notice of a signal once its shutdown hooks run, so this installs a
 * handler of its own for both signals. The first signal runs the action given, if any,
 * then is passed to the handler that was there before, the JVM's own, so the normal
 * shutdown path (Spring Boot's hook, the graceful sequence) follows. When halting is on,
 * any later signal logs {@code second signal: abandoning 2 requests, 1 job (import-1 40%)}
 * and halts with status 128 + the signal's number, without running hooks or waiting for
 * anything; when it is off, a later signal is ignored, as the JVM ignores it.
 * <p>
 * The action exists for JDK Flight Recorder: its own shutdown hook stops every recording
 * the moment the JVM begins to shut down, beside Spring Boot's hook, so a recording
 * started with {@code -XX:StartFlightRecording} would end before the graceful sequence
 * records anything. Closing the context first, while the JVM still runs, keeps the
 * recording going until the sequence has ended.
 * <p>
 * A context that closes without a signal, as each DevTools restart closes one, should
 * {@link #uninstall()} its handler, or the handler would keep that context reachable for
 * the rest of the JVM's life.
 */
public final class SecondSignalHandler {

	private static final Log logger = LogFactory.getLog(SecondSignalHandler.class);

	private static final Runnable NOTHING = () -> {
	};

	// Not final: uninstall() lets go of them, since they hold the application's context.
	private volatile Supplier<String> inFlight;

	private final IntConsumer halt;

	private final boolean haltOnSecond;

	private volatile Runnable beforeExit;

	private final AtomicBoolean signalled = new AtomicBoolean();

	private final AtomicBoolean uninstalled = new AtomicBoolean();

	private final List<Installed> installed = new ArrayList<>();

	/**
	 * Creates a handler whose second signal halts, with no action on the first.
	 * @param inFlight describes what would be abandoned, such as
	 * {@code 2 requests, 1 job (import-1 40%)}
	 * @param halt ends the process with the given status
	 */
	public SecondSignalHandler(Supplier<String> inFlight, IntConsumer halt) {
		this(inFlight, halt, true, () -> {
		});
	}

	/**
	 * Creates a handler.
	 * @param inFlight describes what would be abandoned, such as
	 * {@code 2 requests, 1 job (import-1 40%)}
	 * @param halt ends the process with the given status
	 * @param haltOnSecond whether a second signal halts; if not, it is ignored
	 * @param beforeExit runs on the first signal, on a non-daemon thread of its own, before
	 * the JVM's own handler starts the shutdown; a failure is logged and the shutdown goes
	 * on
	 */
	public SecondSignalHandler(Supplier<String> inFlight, IntConsumer halt, boolean haltOnSecond, Runnable beforeExit) {
		this.inFlight = inFlight;
		this.halt = halt;
		this.haltOnSecond = haltOnSecond;
		this.beforeExit = beforeExit;
	}

	/**
	 * Installs the handler for SIGTERM and SIGINT.
	 * @return whether it could be installed (not, for example, under {@code -Xrs})
	 */
	public synchronized boolean install() {
		try {
			for (String name : List.of("TERM", "INT")) {
				Signal signal = new Signal(name);
				SignalHandler[] previous = new SignalHandler[1];
				SignalHandler ours = (received) -> handle(received, previous[0]);
				previous[0] = Signal.handle(signal, ours);
				this.installed.add(new Installed(signal, ours, previous[0]));
			}
			return true;
		}
		catch (IllegalArgumentException | UnsupportedOperationException | LinkageError ex) {
			logger.warn("Could not install a SIGTERM and SIGINT handler: a second signal will be ignored, and a JFR "
					+ "recording will end as the JVM begins to shut down, before the graceful sequence", ex);
			return false;
		}
	}

	/**
	 * Puts back the handlers that were there before {@link #install()}, unless a signal has
	 * already arrived: then the shutdown it started is under way, and a second signal must
	 * still find this handler. A handler that another one was installed on top of cannot be
	 * taken out of the chain; it then passes every signal on and lets go of what it was
	 * given, so it keeps nothing of the application reachable.
	 * @return whether the handler no longer acts (false once a signal has arrived)
	 */
	public synchronized boolean uninstall() {
		if (this.uninstalled.get()) {
			return true;
		}
		if (this.signalled.get()) {
			return false;
		}
		this.uninstalled.set(true);
		this.beforeExit = NOTHING;
		this.inFlight = () -> "nothing";
		for (Installed each : this.installed) {
			SignalHandler current = Signal.handle(each.signal(), each.previous());
			if (current != each.ours()) {
				// Someone installed a handler after ours, which passes signals on to ours:
				// put theirs back, and ours stays in the chain as a pass-through.
				Signal.handle(each.signal(), current);
			}
		}
		this.installed.clear();
		return true;
	}

	void handle(Signal received, @Nullable SignalHandler previous) {
		if (previous == SignalHandler.SIG_IGN) {
			// The process was started with this signal ignored (a background job of a shell
			// without job control, nohup): it stays ignored, first or second.
			return;
		}
		if (this.uninstalled.get()) {
			passOn(received, previous);
			return;
		}
		if (this.signalled.compareAndSet(false, true)) {
			firstSignal(received, previous);
			return;
		}
		if (!this.haltOnSecond) {
			return;
		}
		logger.warn("second signal: abandoning " + this.inFlight.get() + " (SIG" + received.getName()
				+ " while shutting down); halting now");
		this.halt.accept(128 + received.getNumber());
	}

	// On a non-daemon thread of its own, up to the exit: the JVM's signal threads are
	// daemons, and once the action has stopped the web server no other thread may hold
	// the JVM, which would then exit with status 0 in the middle of the close, or between
	// the close and the exit, rather than with the signal's status after it. The signal's
	// thread waits for it; in a real process the exit ends them both.
	private void firstSignal(Signal received, @Nullable SignalHandler previous) {
		Thread first = new Thread(() -> {
			try {
				this.beforeExit.run();
			}
			catch (RuntimeException | Error ex) {
				logger.error("Could not run the action of the first SIG" + received.getName()
						+ "; shutting down the JVM's way", ex);
			}
			passOn(received, previous);
		}, "graceful-shutdown-SIG" + received.getName());
		first.setDaemon(false);
		first.start();
		try {
			first.join();
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	// SIG_IGN never gets here: handle() leaves an ignored signal ignored.
	private static void passOn(Signal received, @Nullable SignalHandler previous) {
		if (previous != null && previous != SignalHandler.SIG_DFL) {
			previous.handle(received);
		}
		else {
			// No JVM handler to defer to: exit as the JVM's own handler would.
			System.exit(128 + received.getNumber());
		}
	}

	/**
	 * Returns whether this process talks to a terminal, where a person may press Ctrl-C
	 * twice. Under Kubernetes, Docker or systemd it does not.
	 * @return whether standard input and output are a terminal
	 */
	public static boolean isInteractive() {
		Console console = System.console();
		if (console == null) {
			return false;
		}
		try {
			// Java 22+ returns a console even when not attached to a terminal.
			Method isTerminal = Console.class.getMethod("isTerminal");
			return (boolean) isTerminal.invoke(console);
		}
		catch (ReflectiveOperationException ex) {
			return true;
		}
	}

	private record Installed(Signal signal, SignalHandler ours, SignalHandler previous) {
	}

}
