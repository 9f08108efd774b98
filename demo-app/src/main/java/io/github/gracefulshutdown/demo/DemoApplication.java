package io.github.gracefulshutdown.demo;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * A service that shows every feature of the starter: background jobs that journal each
 * unit of work, tracked imports with progress, and a slow endpoint. Send it SIGTERM (or
 * press Ctrl-C) while it works and read the summary line.
 */
@SpringBootApplication
public class DemoApplication {

	public static void main(String[] args) {
		SpringApplication.run(DemoApplication.class, args);
	}

}
