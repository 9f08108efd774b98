package io.github.gracefulshutdown.demo.webflux;

import java.time.Duration;
import java.util.Map;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.event.ApplicationPreparedEvent;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.http.MediaType;
import org.springframework.util.ClassUtils;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.reactive.handler.SimpleUrlHandlerMapping;
import org.springframework.web.reactive.socket.WebSocketHandler;

/**
 * A minimal WebFlux app with the graceful shutdown starter, on Reactor Netty and without
 * the servlet API (its jar), or on reactive Tomcat (its end-to-end test's classpath):
 * {@code GET /slow?ms=N} answers after N ms, {@code GET /hello} at once,
 * {@code GET /events} is an endless Server-Sent Events stream, {@code GET /ticks} an
 * endless NDJSON stream, and {@code /ws} a WebSocket that sends a tick every 200 ms.
 */
@SpringBootApplication
@RestController
public class WebFluxDemoApplication {

	private static final Log logger = LogFactory.getLog(WebFluxDemoApplication.class);

	private static final Duration TICK = Duration.ofMillis(200);

	public static void main(String[] args) {
		SpringApplication application = new SpringApplication(WebFluxDemoApplication.class);
		// Before the context is refreshed (logging is set up by then), so it is logged even
		// when the context fails to start.
		application.addListeners((ApplicationPreparedEvent event) -> logger
			.info("WebFlux demo starting: servletApi=" + (ClassUtils.isPresent("jakarta.servlet.Filter",
					WebFluxDemoApplication.class.getClassLoader()) ? "present" : "absent")));
		application.addListeners((ApplicationReadyEvent event) -> logger.info("WebFlux demo ready on port "
				+ ((WebServerApplicationContext) event.getApplicationContext()).getWebServer().getPort() + " ("
				+ ((WebServerApplicationContext) event.getApplicationContext()).getWebServer().getClass().getSimpleName()
				+ ")"));
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

	@GetMapping(path = "/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
	Flux<String> events() {
		return ticks("events").map((tick) -> "tick " + tick);
	}

	@GetMapping(path = "/ticks", produces = MediaType.APPLICATION_NDJSON_VALUE)
	Flux<Map<String, Long>> ndjsonTicks() {
		return ticks("ticks").map((tick) -> Map.of("tick", tick));
	}

	private static Flux<Long> ticks(String stream) {
		return Flux.interval(TICK)
			.onBackpressureDrop()
			.doOnSubscribe((subscription) -> logger.info(stream + " stream started"))
			.doFinally((signal) -> logger.info(stream + " stream ended: " + signal));
	}

	@Bean
	SimpleUrlHandlerMapping webSocketMapping() {
		WebSocketHandler ticks = (session) -> {
			logger.info("WebSocket session opened: " + session.getHandshakeInfo().getUri().getPath());
			session.closeStatus().subscribe((status) -> logger.info("WebSocket session closed: " + status));
			return session.send(Flux.interval(TICK).onBackpressureDrop().map((tick) -> session.textMessage("tick " + tick)))
				.and(session.receive().then());
		};
		return new SimpleUrlHandlerMapping(Map.of("/ws", ticks), -1);
	}

}
