package io.github.gracefulshutdown.demo.webflux;

import java.time.Duration;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import reactor.core.publisher.Mono;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.event.ApplicationPreparedEvent;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.util.ClassUtils;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * A minimal WebFlux app on Reactor Netty, with the graceful shutdown starter and without
 * the servlet API: {@code GET /slow?ms=N} answers after N ms, {@code GET /hello} at once.
 */
@SpringBootApplication
@RestController
public class WebFluxDemoApplication {

	private static final Log logger = LogFactory.getLog(WebFluxDemoApplication.class);

	public static void main(String[] args) {
		SpringApplication application = new SpringApplication(WebFluxDemoApplication.class);
		// Before the context is refreshed (logging is set up by then), so it is logged even
		// when the context fails to start.
		application.addListeners((ApplicationPreparedEvent event) -> logger
			.info("WebFlux demo starting: servletApi=" + (ClassUtils.isPresent("jakarta.servlet.Filter",
					WebFluxDemoApplication.class.getClassLoader()) ? "present" : "absent")));
		application.addListeners((ApplicationReadyEvent event) -> logger.info("WebFlux demo ready on port "
				+ ((WebServerApplicationContext) event.getApplicationContext()).getWebServer().getPort()));
		application.run(args);
	}

	@GetMapping("/slow")
	Mono<String> slow(@RequestParam long ms) {
		return Mono.just("slow " + ms + " ms done")
			.delayElement(Duration.ofMillis(ms))
			.doOnSubscribe((subscription) -> logger.info("slow request started: ms=" + ms));
	}

	@GetMapping("/hello")
	String hello() {
		return "hello";
	}

}
