package testsuiteapp;

import java.util.concurrent.atomic.AtomicLong;

import org.springframework.stereotype.Service;

/** Greets, and counts the greetings it gave. */
@Service
public class GreetingService {

	private final AtomicLong count = new AtomicLong();

	/**
	 * Greets one person.
	 * @param name who, not blank
	 * @return the greeting
	 */
	public Greeting greet(String name) {
		if (name.isBlank()) {
			throw new IllegalArgumentException("name must not be blank");
		}
		return new Greeting("Hello, " + name.strip(), this.count.incrementAndGet());
	}

	/**
	 * Returns how many greetings were given.
	 * @return the count
	 */
	public long count() {
		return this.count.get();
	}

}
