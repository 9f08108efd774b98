package io.github.gracefulshutdown.demo;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.scheduling.annotation.EnableAsync;
import org.springframework.scheduling.annotation.EnableScheduling;

/**
 * A service that shows every feature of the starter: background jobs that journal each
 * unit of work, tracked imports with progress, {@code @Async} and {@code @Scheduled}
 * work, and a slow endpoint. With {@code --spring.main.web-application-type=none} it is a
 * worker without a web server. Send it SIGTERM (or
 * press Ctrl-C) while it works and read the summary line.
 */
@SpringBootApplication
@EnableAsync
@EnableScheduling
public class DemoApplication {

	public static void main(String[] args) {
		SpringApplication.run(DemoApplication.class, args);
	}

}
