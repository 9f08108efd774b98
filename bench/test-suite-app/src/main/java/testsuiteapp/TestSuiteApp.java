package testsuiteapp;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.scheduling.annotation.EnableAsync;

/**
 * A small service as a new user of the starter writes it: a controller, a service, an
 * {@code @Async} report and a background heartbeat, with three {@code @SpringBootTest}
 * classes. bench/test-suite.sh times its {@code mvn test} with and without the starter.
 */
@SpringBootApplication
@EnableAsync
public class TestSuiteApp {

	public static void main(String[] args) {
		SpringApplication.run(TestSuiteApp.class, args);
	}

}
