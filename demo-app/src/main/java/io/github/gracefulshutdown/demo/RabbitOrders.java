package io.github.gracefulshutdown.demo;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import org.springframework.amqp.rabbit.annotation.Queue;
import org.springframework.amqp.rabbit.annotation.RabbitListener;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Profile;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * A RabbitMQ consumer, under the {@code rabbit} profile, as the reproduction has
 * it: a {@code @RabbitListener} with two consumers and one message prefetched each
 * ({@code application-rabbit.properties}), and work per message
 * ({@code demo.rabbit.work}) that must not be cut in half. A message's body is its id;
 * the journal records its start and end under the job {@code rabbit}.
 * <p>
 * {@code POST /rabbit/orders?count=N} publishes N messages to the queue, so that a
 * SIGTERM can be tried by hand.
 */
@RestController
@Profile("rabbit")
class RabbitOrders {

	private final Journal journal;

	private final Duration work;

	private final RabbitTemplate template;

	private final String queue;

	RabbitOrders(Journal journal, RabbitTemplate template, @Value("${demo.rabbit.work:8s}") Duration work,
			@Value("${demo.rabbit.queue}") String queue) {
		this.journal = journal;
		this.template = template;
		this.work = work;
		this.queue = queue;
	}

	@RabbitListener(id = "orders", queuesToDeclare = @Queue("${demo.rabbit.queue}"),
			concurrency = "${demo.rabbit.concurrency:2}")
	void onOrder(String id) {
		if (!this.journal.unit("rabbit", id, this.work)) {
			// Interrupted: fail, so that the message is requeued rather than acknowledged.
			throw new IllegalStateException("Order " + id + " was cut short");
		}
	}

	@PostMapping("/rabbit/orders")
	List<String> publish(@RequestParam(defaultValue = "2") int count) {
		List<String> ids = new ArrayList<>();
		for (int i = 0; i < count; i++) {
			String id = UUID.randomUUID().toString().substring(0, 8);
			this.template.convertAndSend("", this.queue, id);
			ids.add(id);
		}
		return ids;
	}

}
