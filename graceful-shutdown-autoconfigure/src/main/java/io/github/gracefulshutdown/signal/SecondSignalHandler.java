package io.github.gracefulshutdown.signal;

import java.io.Console;
import java.lang.reflect.Method;
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
 * tool does when Ctrl-C is pressed twice.
 * <p>
 * The JVM takes no notice of a signal once its shutdown hooks run, so this installs a
 * handler of its own for both signals. The first signal is passed to the handler that was
 * there before, the JVM's own, so the normal shutdown path (Spring Boot's hook, the
 * graceful sequence) is unchanged. Any later signal logs
 * {@code second signal: abandoning 2 requests, 1 job (import-1 40%)} and halts with
 * status 128 + the signal's
 * number, without running hooks or waiting for anything.
 */
public final class SecondSignalHandler {

	private static final Log logger = LogFactory.getLog(SecondSignalHandler.class);

	private final Supplier<String> inFlight;

	private final IntConsumer halt;

	private final AtomicBoolean signalled = new AtomicBoolean();

	/**
	 * Creates a handler.
	 * @param inFlight describes what would be abandoned, such as
	 * {@code 2 requests, 1 job (import-1 40%)}
	 * @param halt ends the process with the given status
	 */
	public SecondSignalHandler(Supplier<String> inFlight, IntConsumer halt) {
		this.inFlight = inFlight;
		this.halt = halt;
	}

	/**
	 * Installs the handler for SIGTERM and SIGINT.
	 * @return whether it could be installed (not, for example, under {@code -Xrs})
	 */
	public boolean install() {
		try {
			for (String name : List.of("TERM", "INT")) {
				Signal signal = new Signal(name);
				SignalHandler[] previous = new SignalHandler[1];
				previous[0] = Signal.handle(signal, (received) -> handle(received, previous[0]));
			}
			return true;
		}
		catch (IllegalArgumentException | UnsupportedOperationException | LinkageError ex) {
			logger.warn("Could not install the second-signal handler; a second signal will be ignored", ex);
			return false;
		}
	}

	void handle(Signal received, @Nullable SignalHandler previous) {
		if (this.signalled.compareAndSet(false, true)) {
			if (previous != null && previous != SignalHandler.SIG_DFL && previous != SignalHandler.SIG_IGN) {
				previous.handle(received);
			}
			else {
				// No JVM handler to defer to: exit as the JVM's own handler would.
				new Thread(() -> System.exit(128 + received.getNumber()), "SIG" + received.getName() + " handler")
					.start();
			}
			return;
		}
		logger.warn("second signal: abandoning " + this.inFlight.get() + " (SIG" + received.getName()
				+ " while shutting down); halting now");
		this.halt.accept(128 + received.getNumber());
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

}
