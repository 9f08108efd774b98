package io.github.gracefulshutdown.signal;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

import static org.assertj.core.api.Assertions.assertThat;

@ExtendWith(OutputCaptureExtension.class)
class SecondSignalHandlerTests {

	@Test
	void theFirstSignalTakesTheNormalPathAndTheSecondHalts(CapturedOutput output) {
		List<Integer> halts = new CopyOnWriteArrayList<>();
		List<String> previous = new CopyOnWriteArrayList<>();
		SecondSignalHandler handler = new SecondSignalHandler(() -> "1 request, 2 jobs (sync, import-1 40%)", halts::add);
		Signal term = new Signal("TERM");
		handler.handle(term, (signal) -> previous.add(signal.getName()));
		assertThat(previous).containsExactly("TERM");
		assertThat(halts).isEmpty();
		handler.handle(new Signal("INT"), (signal) -> previous.add(signal.getName()));
		assertThat(previous).as("the second signal is not passed on").containsExactly("TERM");
		assertThat(halts).containsExactly(130);
		assertThat(output).contains("second signal: abandoning 1 request, 2 jobs (sync, import-1 40%) (SIGINT while shutting down); halting now");
	}

	@Test
	void theFirstSignalRunsItsActionBeforeTheJvmsHandlerAndALaterOneIsIgnoredWhenHaltIsOff() {
		List<Integer> halts = new CopyOnWriteArrayList<>();
		List<String> steps = new CopyOnWriteArrayList<>();
		SecondSignalHandler handler = new SecondSignalHandler(() -> "nothing", halts::add, false,
				() -> steps.add("close the context"));
		handler.handle(new Signal("TERM"), (signal) -> steps.add("JVM handler for SIG" + signal.getName()));
		assertThat(steps).containsExactly("close the context", "JVM handler for SIGTERM");
		handler.handle(new Signal("TERM"), (signal) -> steps.add("JVM handler again"));
		assertThat(steps).as("a later signal is ignored, as the JVM ignores it while shutting down").hasSize(2);
		assertThat(halts).isEmpty();
	}

	@Test
	void aFailedActionStillLetsTheJvmShutDown(CapturedOutput output) {
		List<String> steps = new CopyOnWriteArrayList<>();
		SecondSignalHandler handler = new SecondSignalHandler(() -> "nothing", (status) -> {
		}, false, () -> {
			throw new IllegalStateException("context already failed");
		});
		handler.handle(new Signal("TERM"), (signal) -> steps.add("JVM handler"));
		assertThat(steps).containsExactly("JVM handler");
		assertThat(output).contains("Could not run the action of the first SIGTERM").contains("context already failed");
	}

	@Test
	void aSignalTheProcessWasStartedToIgnoreStaysIgnored() {
		List<Integer> halts = new CopyOnWriteArrayList<>();
		List<String> steps = new CopyOnWriteArrayList<>();
		SecondSignalHandler handler = new SecondSignalHandler(() -> "nothing", halts::add, true,
				() -> steps.add("close the context"));
		// Were it not ignored, the first would exit this JVM, and the second would halt.
		handler.handle(new Signal("INT"), SignalHandler.SIG_IGN);
		handler.handle(new Signal("INT"), SignalHandler.SIG_IGN);
		assertThat(steps).isEmpty();
		assertThat(halts).isEmpty();
		handler.handle(new Signal("TERM"), (signal) -> steps.add("JVM handler for SIG" + signal.getName()));
		assertThat(steps).containsExactly("close the context", "JVM handler for SIGTERM");
	}

	@Test
	void uninstallingPutsBackTheHandlerThatWasThere() {
		Signal term = new Signal("TERM");
		String before = current(term);
		SecondSignalHandler handler = new SecondSignalHandler(() -> "nothing", (status) -> {
		}, false, () -> {
		});
		assertThat(handler.install()).isTrue();
		assertThat(current(term)).isNotEqualTo(before);
		assertThat(handler.uninstall()).isTrue();
		assertThat(current(term)).isEqualTo(before);
	}

	@Test
	void anUninstalledHandlerLeftInAChainPassesSignalsOnAndRunsNothing() {
		List<String> steps = new CopyOnWriteArrayList<>();
		SecondSignalHandler handler = new SecondSignalHandler(() -> "nothing", (status) -> steps.add("halt"), true,
				() -> steps.add("close the context"));
		assertThat(handler.uninstall()).isTrue();
		handler.handle(new Signal("TERM"), (signal) -> steps.add("JVM handler"));
		handler.handle(new Signal("TERM"), (signal) -> steps.add("JVM handler"));
		assertThat(steps).containsExactly("JVM handler", "JVM handler");
	}

	@Test
	void aHandlerThatHasSeenASignalStaysForTheSecond() {
		List<Integer> halts = new CopyOnWriteArrayList<>();
		SecondSignalHandler handler = new SecondSignalHandler(() -> "nothing", halts::add, true, () -> {
		});
		handler.handle(new Signal("TERM"), (signal) -> {
		});
		assertThat(handler.uninstall()).isFalse();
		handler.handle(new Signal("TERM"), (signal) -> {
		});
		assertThat(halts).containsExactly(143);
	}

	// Reads the handler by swapping it out for a moment, as sun.misc.Signal has no getter,
	// and names it as printed: sun.misc wraps the JVM's own handler anew on every read, and
	// the wrapper prints the handler it wraps.
	private static String current(Signal signal) {
		SignalHandler current = Signal.handle(signal, (received) -> {
		});
		Signal.handle(signal, current);
		return current.toString();
	}

}
