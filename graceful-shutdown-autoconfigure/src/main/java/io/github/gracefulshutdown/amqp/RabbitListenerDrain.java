package io.github.gracefulshutdown.amqp;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.core.InFlightTracker;
import io.github.gracefulshutdown.core.Units;
import org.aopalliance.aop.Advice;
import org.aopalliance.intercept.MethodInterceptor;
import org.aopalliance.intercept.MethodInvocation;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageListenerContainer;
import org.springframework.amqp.listener.MessageRejectedWhileStoppingException;
import org.springframework.amqp.rabbit.listener.AbstractMessageListenerContainer;
import org.springframework.amqp.rabbit.listener.DirectMessageListenerContainer;
import org.springframework.amqp.rabbit.listener.DirectReplyToMessageListenerContainer;
import org.springframework.amqp.rabbit.listener.RabbitListenerEndpointRegistry;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationListener;
import org.springframework.context.event.ContextRefreshedEvent;

/**
 * Every RabbitMQ listener container of the context as one participant of the shutdown:
 * simple and direct containers, those of {@code @RabbitListener} endpoints in the
 * {@link RabbitListenerEndpointRegistry} and container beans.
 * <p>
 * {@link #drain()}, called as the shutdown starts, stops each running container with
 * Spring AMQP's own {@code stop(Runnable)}. Each consumer is cancelled
 * ({@code basic.cancel}), so the broker delivers it nothing more; a delivery the listener
 * is working on finishes and is acknowledged; a message that was fetched but never given
 * to the listener is rejected by the stopped container and goes back to the queue, for
 * another instance, and so do the rest when the consumer's channel closes. The stops run
 * on a thread of their own, since each {@code basic.cancel} waits for the broker's
 * answer. A container's {@code shutdownTimeout} is raised first to the whole budget: at
 * its own 5 s default the container would close its channels under deliveries that the
 * deadline still allows.
 * <p>
 * The drain completes when every container has called back, that is once each consumer
 * has acknowledged its last delivery and closed its channel, so nothing later in the
 * close can cut an acknowledgement short. When their own lifecycle phase comes, the
 * registry and the container beans are no longer running, and add no wait of their own.
 * <p>
 * Deliveries are counted from the moment the listener is invoked until it returns, by an
 * advice first in each container's chain ({@link DeliveryCountingPostProcessor}): that is
 * what the progress line, the summary ({@code 2 messages drained}), the status endpoint
 * and the {@code graceful.shutdown.messages.active} gauge show. A delivery still in the
 * listener at the deadline is named ({@code rabbit <listener id> queue=<queue>}) with its
 * thread, and stays in {@link #inFlight()} until the listener returns; the container is
 * then left to close, and the broker requeues the message when its channel closes.
 * <p>
 * An application without any listener container counts nothing here, so that its log
 * and its summary say nothing about messages.
 */
public final class RabbitListenerDrain implements ShutdownParticipant, ApplicationListener<ContextRefreshedEvent> {

	private static final Log logger = LogFactory.getLog(RabbitListenerDrain.class);

	private final ApplicationContext context;

	private final Duration patience;

	private final boolean atShutdownStart;

	private final InFlightTracker<Delivery> deliveries = new InFlightTracker<>();

	private final AtomicBoolean draining = new AtomicBoolean();

	private final CompletableFuture<Void> drained = new CompletableFuture<>();

	// The containers this drain stopped, each with the stage its callback completes.
	private final List<Stop> stops = new CopyOnWriteArrayList<>();

	// Looked up once the context is refreshed, and again as draining starts; never after,
	// when the context may be closed.
	private volatile @Nullable List<AbstractMessageListenerContainer> containers;

	private volatile Instant drainStartedAt = Instant.EPOCH;

	/**
	 * Creates the participant.
	 * @param context the context whose listener containers are drained
	 * @param patience how long a stopped container waits for its deliveries in flight
	 * before it closes their channels itself: at least drain-delay + deadline, so that it
	 * never does so before the deadline
	 * @param atShutdownStart whether the containers stop consuming as the shutdown starts
	 * rather than after the drain delay ({@code graceful-shutdown.stop-consuming})
	 */
	public RabbitListenerDrain(ApplicationContext context, Duration patience, boolean atShutdownStart) {
		this.context = Objects.requireNonNull(context, "context must not be null");
		this.patience = Objects.requireNonNull(patience, "patience must not be null");
		this.atShutdownStart = atShutdownStart;
	}

	/**
	 * Returns an advice that counts the deliveries of the containers whose chain it is
	 * put in, first, so that it also covers the user's retries.
	 * @param container the container it is made for, named in what it counts; or
	 * {@code null} for one that a container factory shares among its containers, which
	 * are then told apart by the queue the delivery came from
	 * @return a new advice
	 */
	public Advice deliveryCounter(@Nullable AbstractMessageListenerContainer container) {
		return new DeliveryCounter(container);
	}

	/**
	 * Looks up the containers, now that the registry has created those of the
	 * {@code @RabbitListener} endpoints, and warns once about any whose deliveries are not
	 * counted.
	 */
	@Override
	public void onApplicationEvent(ContextRefreshedEvent event) {
		if (event.getApplicationContext() != this.context) {
			return;
		}
		List<AbstractMessageListenerContainer> found = lookUp();
		this.containers = found;
		List<String> uncounted = found.stream()
			.filter((container) -> !DeliveryCountingPostProcessor.isCounted(container))
			.map(RabbitListenerDrain::name)
			.toList();
		if (!uncounted.isEmpty()) {
			logger.warn("RabbitMQ listener containers " + uncounted + " have an advice chain without graceful "
					+ "shutdown's delivery counter (was it set after the container factory's?): at shutdown they are "
					+ "stopped and awaited, but their deliveries are neither counted nor named. Put the advice of "
					+ "RabbitListenerDrain.deliveryCounter(container) first in the chain you set");
		}
	}

	// ---- ShutdownParticipant --------------------------------------------------------

	@Override
	public String name() {
		return Units.MESSAGE;
	}

	/**
	 * Says yes unless {@code graceful-shutdown.stop-consuming=after-drain-delay}: no load
	 * balancer routes messages away from a consumer. Says no without any container, so
	 * that nothing is said about consumers that do not exist.
	 */
	@Override
	public boolean drainsAtShutdownStart() {
		return this.atShutdownStart && isConsuming();
	}

	/**
	 * Stops every running container, each consumer after its delivery in flight, with
	 * the messages fetched but not delivered handed back; completes once every container
	 * has called back and no delivery is left in the listener.
	 */
	@Override
	public CompletionStage<?> drain() {
		if (this.draining.compareAndSet(false, true)) {
			this.drainStartedAt = Instant.now();
			List<AbstractMessageListenerContainer> all = lookUp();
			this.containers = all;
			List<AbstractMessageListenerContainer> running = all.stream()
				.filter(AbstractMessageListenerContainer::isRunning)
				.toList();
			if (running.isEmpty()) {
				completeWhenStopped();
			}
			else {
				Thread stopper = new Thread(() -> stop(running), "graceful-shutdown-rabbit");
				// Ends once it has asked every container to stop; it must never hold the JVM.
				stopper.setDaemon(true);
				stopper.start();
			}
		}
		return this.drained.copy();
	}

	private void stop(List<AbstractMessageListenerContainer> running) {
		for (AbstractMessageListenerContainer container : running) {
			Stop stop = new Stop(container, new CompletableFuture<>());
			this.stops.add(stop);
			try {
				container.setShutdownTimeout(this.patience.toMillis());
				if (container instanceof DirectMessageListenerContainer direct) {
					// With force-stop, a direct container leaves idle consumers open until its
					// timeout, now the whole budget. Without it they are cancelled at once,
					// and what force-stop asks for still holds: the delivery in flight
					// finishes and what was fetched goes back to the queue.
					direct.setForceStop(false);
				}
				container.stop(() -> stop.stopped().complete(null));
				logger.debug("Stopped consuming: RabbitMQ listener container '" + name(container) + "' (queues "
						+ Arrays.toString(container.getQueueNames()) + ")");
			}
			catch (RuntimeException ex) {
				// Left to its own lifecycle phase, with what is left of the budget.
				logger.warn("RabbitMQ listener container '" + name(container) + "' failed to stop", ex);
				stop.stopped().complete(null);
			}
		}
		completeWhenStopped();
	}

	private void completeWhenStopped() {
		// Once every consumer has closed, no listener can be invoked any more: the seal
		// refuses nothing that a container could still deliver.
		CompletableFuture.allOf(this.stops.stream().map(Stop::stopped).toArray(CompletableFuture[]::new))
			.thenCompose((ignored) -> this.deliveries.drain())
			.whenComplete((ignored, ex) -> this.drained.complete(null));
	}

	@Override
	public OptionalLong inFlightCount() {
		return isConsuming() ? OptionalLong.of(this.deliveries.activeCount()) : OptionalLong.empty();
	}

	@Override
	public OptionalLong completedCount() {
		return isConsuming() ? OptionalLong.of(this.deliveries.completedCount()) : OptionalLong.empty();
	}

	/**
	 * Returns the deliveries in the listener now, oldest first, each with the thread that
	 * runs the listener.
	 */
	@Override
	public List<InFlight> inFlight() {
		return this.deliveries.active().stream().map(this::describe).toList();
	}

	/**
	 * Refuses any later delivery (the container requeues it) and names what is left:
	 * each delivery still in the listener, and each container that has not closed its
	 * consumers although none of its deliveries is counted. The containers are left to
	 * close.
	 */
	@Override
	public List<InFlight> deadlinePassed() {
		this.deliveries.close();
		List<InFlight> left = new ArrayList<>();
		Set<AbstractMessageListenerContainer> busy = Collections.newSetFromMap(new IdentityHashMap<>());
		for (Delivery delivery : this.deliveries.active()) {
			left.add(describe(delivery));
			busy.addAll(owners(delivery));
		}
		for (Stop stop : this.stops) {
			if (!stop.stopped().isDone() && !busy.contains(stop.container())) {
				left.add(new InFlight("rabbit " + name(stop.container()) + " consumers not closed yet",
						this.drainStartedAt, null));
			}
		}
		return left;
	}

	// ---- Containers ---------------------------------------------------------------

	private boolean isConsuming() {
		return !containers().isEmpty();
	}

	private List<AbstractMessageListenerContainer> containers() {
		List<AbstractMessageListenerContainer> known = this.containers;
		// Before the refresh (meters are bound then) there is no list yet: look.
		return (known != null) ? known : lookUp();
	}

	private List<AbstractMessageListenerContainer> lookUp() {
		List<AbstractMessageListenerContainer> found = new ArrayList<>();
		for (RabbitListenerEndpointRegistry registry : this.context
			.getBeansOfType(RabbitListenerEndpointRegistry.class, false, false)
			.values()) {
			for (MessageListenerContainer container : registry.getListenerContainers()) {
				add(found, container);
			}
		}
		for (AbstractMessageListenerContainer container : this.context
			.getBeansOfType(AbstractMessageListenerContainer.class, false, false)
			.values()) {
			add(found, container);
		}
		return found;
	}

	private static void add(List<AbstractMessageListenerContainer> found, MessageListenerContainer candidate) {
		// A RabbitTemplate's reply container serves requests that may still be draining.
		if (candidate instanceof AbstractMessageListenerContainer container
				&& !(candidate instanceof DirectReplyToMessageListenerContainer)
				&& found.stream().noneMatch((known) -> known == container)) {
			found.add(container);
		}
	}

	private InFlight describe(Delivery delivery) {
		String owners = owners(delivery).stream().map(RabbitListenerDrain::name).collect(Collectors.joining("|"));
		return new InFlight("rabbit " + (owners.isEmpty() ? "listener" : owners) + " queue=" + delivery.queue
				+ ((delivery.messages > 1) ? " (batch of " + delivery.messages + ")" : ""), delivery.startedAt(),
				delivery.thread());
	}

	/**
	 * The container a delivery came from: the one its counter was made for, or those that
	 * consume from its queue.
	 */
	private List<AbstractMessageListenerContainer> owners(Delivery delivery) {
		if (delivery.container != null) {
			return List.of(delivery.container);
		}
		return containers().stream()
			.filter((container) -> Arrays.asList(container.getQueueNames()).contains(delivery.queue))
			.toList();
	}

	/** The listener id, which for a container bean without one is its bean name. */
	private static String name(AbstractMessageListenerContainer container) {
		return container.getListenerId();
	}

	/**
	 * Counts each invocation of the listener, from its start to its return.
	 */
	final class DeliveryCounter implements MethodInterceptor {

		private final @Nullable AbstractMessageListenerContainer container;

		DeliveryCounter(@Nullable AbstractMessageListenerContainer container) {
			this.container = container;
		}

		@Override
		public @Nullable Object invoke(MethodInvocation invocation) throws Throwable {
			// ContainerDelegate.invokeListener(Channel, Object data): a Message, or a batch.
			Object[] arguments = invocation.getArguments();
			Delivery delivery = Delivery.of(this.container, (arguments.length > 1) ? arguments[1] : null);
			if (!RabbitListenerDrain.this.deliveries.begin(delivery)) {
				// Only after the deadline: the container rejects it, and the broker requeues it.
				throw new MessageRejectedWhileStoppingException();
			}
			try {
				return invocation.proceed();
			}
			finally {
				delivery.end();
			}
		}

	}

	/**
	 * One invocation of a listener: a message, or a batch of them.
	 */
	static final class Delivery extends InFlightTracker.Entry {

		private final @Nullable AbstractMessageListenerContainer container;

		private final String queue;

		private final int messages;

		private Delivery(@Nullable AbstractMessageListenerContainer container, String queue, int messages) {
			super(Thread.currentThread());
			this.container = container;
			this.queue = queue;
			this.messages = messages;
		}

		static Delivery of(@Nullable AbstractMessageListenerContainer container, @Nullable Object data) {
			if (data instanceof Message message) {
				return new Delivery(container, queue(message), 1);
			}
			if (data instanceof List<?> batch && !batch.isEmpty() && batch.get(0) instanceof Message first) {
				return new Delivery(container, queue(first), batch.size());
			}
			return new Delivery(container, "?", 1);
		}

		private static String queue(Message message) {
			String queue = message.getMessageProperties().getConsumerQueue();
			return (queue != null) ? queue : "?";
		}

		void end() {
			end(Boolean.TRUE);
		}

	}

	private record Stop(AbstractMessageListenerContainer container, CompletableFuture<Void> stopped) {
	}

}
