package testsuiteapp;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import org.springframework.scheduling.annotation.Async;
import org.springframework.stereotype.Service;

/** Builds reports off the caller's thread, on Spring Boot's task executor. */
@Service
public class ReportService {

	private final GreetingService greetings;

	private final List<String> generated = new CopyOnWriteArrayList<>();

	ReportService(GreetingService greetings) {
		this.greetings = greetings;
	}

	/**
	 * Builds the report named {@code name} and remembers that it did.
	 * @param name the report's name
	 * @return the report, once built
	 */
	@Async
	public CompletableFuture<Report> generate(String name) {
		Report report = new Report(name, this.greetings.count(), Thread.currentThread().getName());
		this.generated.add(name);
		return CompletableFuture.completedFuture(report);
	}

	/**
	 * Returns the names of the reports built so far.
	 * @return the names, oldest first
	 */
	public List<String> generated() {
		return List.copyOf(this.generated);
	}

	/**
	 * A report.
	 *
	 * @param name its name
	 * @param greetings how many greetings had been given when it was built
	 * @param thread the thread that built it
	 */
	public record Report(String name, long greetings, String thread) {
	}

}
