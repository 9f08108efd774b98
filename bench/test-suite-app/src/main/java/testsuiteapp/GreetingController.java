package testsuiteapp;

import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** {@code GET /greetings/{name}}. */
@RestController
class GreetingController {

	private final GreetingService greetings;

	GreetingController(GreetingService greetings) {
		this.greetings = greetings;
	}

	@GetMapping("/greetings/{name}")
	Greeting greet(@PathVariable String name) {
		return this.greetings.greet(name);
	}

	@ExceptionHandler(IllegalArgumentException.class)
	@ResponseStatus(HttpStatus.BAD_REQUEST)
	String badRequest(IllegalArgumentException ex) {
		return ex.getMessage();
	}

}
