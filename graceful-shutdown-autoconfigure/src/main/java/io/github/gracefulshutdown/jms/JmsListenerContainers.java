package io.github.gracefulshutdown.jms;

import java.lang.reflect.Method;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.core.InFlightTracker;
import io.github.gracefulshutdown.core.Units;
import jakarta.jms.Destination;
import jakarta.jms.JMSException;
import jakarta.jms.Queue;
import jakarta.jms.Session;
import jakarta.jms.Topic;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.jms.config.JmsListenerEndpointRegistry;
import org.springframework.jms.listener.AbstractPollingMessageListenerContainer;
import org.springframework.jms.listener.DefaultMessageListenerContainer;
import org.springframework.jms.listener.MessageListenerContainer;
import org.springframework.util.ReflectionUtils;

/**
 * Spring JMS listener containers as a participant of the one shutdown: every
 * {@link DefaultMessageListenerContainer} that {@link JmsListenerTracking} hands it, those
 * of {@code @JmsListener} methods and those declared as beans.
 * <p>
 * When it drains (as the shutdown starts, by default: see
 * {@link #drainsAtShutdownStart()}), each container is stopped with
 * {@link DefaultMessageListenerContainer#stop(Runnable)}, which returns at once:
 * <ul>
 * <li>the container stops running and stops its JMS connection, so its consumers receive
 * nothing more and the broker delivers nothing more to them;</li>
 * <li>each consumer finishes the message it holds: the listener returns, the container
 * commits the session or acknowledges the message, and the consumer parks;</li>
 * <li>when the last consumer has parked, the container closes its consumers and its
 * connection, which gives the messages the client had prefetched but never handed to a
 * listener back to the broker, for another instance, and then it calls back.</li>
 * </ul>
 * The drain completes on the last container's callback and the last listener's end, not
 * by polling. Spring's own stop of the containers, in phase {@code Integer.MAX_VALUE}
 * after the sequence, finds them stopped and returns at once.
 * <p>
 * A consumer that is waiting in {@code receive} when its container stops parks only when
 * that receive returns, after at most the container's {@code receiveTimeout}
 * ({@code spring.jms.listener.receive-timeout}, 1 s by default): the drain of an idle
 * container takes that long.
 * <p>
 * A message cut short comes back only if the broker has not been told it was consumed:
 * with a transacted session (Spring Boot's listener container factory sets
 * {@code sessionTransacted} unless a JTA transaction manager is in use) or client
 * acknowledgement, it is acknowledged after the listener returns, and redelivered when
 * cut. With {@code AUTO_ACKNOWLEDGE} or {@code DUPS_OK_ACKNOWLEDGE} and no transaction
 * manager it is acknowledged as it is received, and lost if cut: such a container is named
 * in a warning at startup.
 * <p>
 * The stops run on a thread of their own, {@code graceful-shutdown-jms}, which ends when
 * the last has returned: stopping a container stops its connection, a round trip to the
 * broker that an unresponsive broker can hold up, and the sequence must not wait for it.
 * <p>
 * At the deadline each message still in a listener is a straggler, named
 * {@code jms <listener id or bean name> destination=<queue>} on its consumer's thread,
 * and it stays in {@link #inFlight()} until its listener has returned, so the verdict
 * cannot be {@code COMPLETED} while it runs.
 */
public final class JmsListenerContainers implements ShutdownParticipant {

	private static final Log logger = LogFactory.getLog(JmsListenerContainers.class);

	private static final @Nullable Method TRANSACTION_MANAGER = transactionManagerGetter();

	private final boolean drainsAtShutdownStart;

	private final InFlightTracker<Delivery> deliveries = new InFlightTracker<>();

	// Few, and added at startup: a copy-on-write list that drains and listings walk
	// without a lock.
	private final List<Container> containers = new CopyOnWriteArrayList<>();

	private final List<JmsListenerEndpointRegistry> registries = new CopyOnWriteArrayList<>();

	// Containers of another kind, warned about once; guarded by this.
	private final Set<MessageListenerContainer> notDrained = Collections.newSetFromMap(new IdentityHashMap<>());

	private @Nullable CompletableFuture<Void> drained;

	/**
	 * Creates the participant, with no container yet.
	 * @param drainsAtShutdownStart whether the containers stop receiving as the shutdown
	 * starts, before the drain delay ({@code graceful-shutdown.stop-consuming=immediately})
	 */
	public JmsListenerContainers(boolean drainsAtShutdownStart) {
		this.drainsAtShutdownStart = drainsAtShutdownStart;
	}

	// ---- What is drained ------------------------------------------------------------

	/**
	 * Counts the messages of a container from now on, by wrapping its listener, and
	 * drains the container with the others. Meant to be called before the container
	 * starts; calling it again for the same container does nothing.
	 * @param container the container
	 * @param name what to call it in the log: the listener id, or the bean name
	 */
	public synchronized void track(DefaultMessageListenerContainer container, String name) {
		for (Container tracked : this.containers) {
			if (tracked.container == container) {
				return;
			}
		}
		Container tracked = new Container(container, name);
		Object listener = container.getMessageListener();
		if (listener == null) {
			logger.warn("JMS listener container '" + name + "' has no message listener yet: it is drained at shutdown,"
					+ " but its messages are not counted, and one still in flight at the deadline is named only by "
					+ "its container");
		}
		else if (!TrackingListeners.isTracking(listener)) {
			container.setMessageListener(TrackingListeners.wrap(listener, tracked));
		}
		warnIfCutMessagesAreLost(container, name);
		this.containers.add(tracked);
	}

	/**
	 * Tracks every {@link DefaultMessageListenerContainer} of a registry now, and those
	 * registered later when draining starts (counted from then on).
	 * @param registry the registry of the {@code @JmsListener} containers
	 */
	public synchronized void track(JmsListenerEndpointRegistry registry) {
		if (!this.registries.contains(registry)) {
			this.registries.add(registry);
		}
		for (String id : registry.getListenerContainerIds()) {
			MessageListenerContainer container = registry.getListenerContainer(id);
			if (container instanceof DefaultMessageListenerContainer listenerContainer) {
				track(listenerContainer, id);
			}
			else if (container != null && this.notDrained.add(container)) {
				logger.warn("JMS listener container '" + id + "' is a " + container.getClass().getName()
						+ ", not a DefaultMessageListenerContainer: it is not drained by the shutdown sequence, and "
						+ "Spring stops it in its own phase, after the deadline");
			}
		}
	}

	private static void warnIfCutMessagesAreLost(DefaultMessageListenerContainer container, String name) {
		int mode = container.getSessionAcknowledgeMode();
		boolean acknowledgedOnReceipt = mode == Session.AUTO_ACKNOWLEDGE || mode == Session.DUPS_OK_ACKNOWLEDGE;
		if (container.isSessionTransacted() || !acknowledgedOnReceipt || hasTransactionManager(container)) {
			return;
		}
		logger.warn("JMS listener container '" + name + "' acknowledges each message as it receives it ("
				+ ((mode == Session.AUTO_ACKNOWLEDGE) ? "AUTO_ACKNOWLEDGE" : "DUPS_OK_ACKNOWLEDGE")
				+ ", not transacted): a message still in its listener when the shutdown deadline cuts it is lost, "
				+ "not redelivered. Make its session transacted (Spring Boot's listener container factory does "
				+ "unless spring.jms.listener.session.transacted=false) or use CLIENT_ACKNOWLEDGE");
	}

	private static boolean hasTransactionManager(DefaultMessageListenerContainer container) {
		return TRANSACTION_MANAGER != null && ReflectionUtils.invokeMethod(TRANSACTION_MANAGER, container) != null;
	}

	/**
	 * The container's transaction manager is read through its protected getter: Spring
	 * offers no public one, and a JTA transaction covers the receive without making the
	 * session transacted. Where it cannot be read, a container is taken to have none.
	 */
	private static @Nullable Method transactionManagerGetter() {
		Method getter = ReflectionUtils.findMethod(AbstractPollingMessageListenerContainer.class,
				"getTransactionManager");
		try {
			if (getter != null) {
				ReflectionUtils.makeAccessible(getter);
			}
			return getter;
		}
		catch (RuntimeException ex) {
			return null;
		}
	}

	// ---- ShutdownParticipant --------------------------------------------------------

	@Override
	public String name() {
		return Units.MESSAGE;
	}

	/**
	 * Says yes unless {@code graceful-shutdown.stop-consuming=after-drain-delay}: no load
	 * balancer routes messages away from a consumer, so each one it received during the
	 * drain delay would be one more to finish before the deadline.
	 */
	@Override
	public boolean drainsAtShutdownStart() {
		// Without a container there is nothing to stop early, nor to say it stopped.
		return this.drainsAtShutdownStart && !this.containers.isEmpty();
	}

	/**
	 * Stops every container, on a thread of its own, and returns a stage that completes
	 * when each has called back (its consumers have finished the message they held and
	 * parked) and no listener is running.
	 */
	@Override
	public synchronized CompletionStage<?> drain() {
		CompletableFuture<Void> drained = this.drained;
		if (drained == null) {
			for (JmsListenerEndpointRegistry registry : this.registries) {
				// Endpoints registered since startup, counted from now on.
				track(registry);
			}
			List<Container> containers = List.copyOf(this.containers);
			CompletableFuture<?>[] stopped = containers.stream()
				.map(Container::stopRequested)
				.toArray(CompletableFuture[]::new);
			if (!containers.isEmpty()) {
				Thread stopper = new Thread(() -> containers.forEach(Container::stop), "graceful-shutdown-jms");
				// A stop held up by the broker must not hold the JVM; the watchdog bounds it.
				stopper.setDaemon(true);
				stopper.start();
			}
			// Sealed once every consumer has parked: no listener can start after that, so
			// the seal refuses none.
			drained = CompletableFuture.allOf(stopped).thenCompose((ignored) -> this.deliveries.drain());
			this.drained = drained;
		}
		return drained.copy();
	}

	/**
	 * Counts the messages in listeners, once there is a container to count them for: an
	 * application with Spring JMS on its classpath and no listener claims no message
	 * figure in its log and summary.
	 */
	@Override
	public OptionalLong inFlightCount() {
		return this.containers.isEmpty() ? OptionalLong.empty() : OptionalLong.of(this.deliveries.activeCount());
	}

	@Override
	public OptionalLong completedCount() {
		return this.containers.isEmpty() ? OptionalLong.empty() : OptionalLong.of(this.deliveries.completedCount());
	}

	/**
	 * Returns the messages in listeners now, oldest first, each on its consumer's thread;
	 * and, once draining has started, each container that has not called back although
	 * none of its messages is in a listener (a commit or a receive still under way, or a
	 * listener that is not counted), on no thread.
	 */
	@Override
	public List<InFlight> inFlight() {
		List<InFlight> left = new ArrayList<>();
		Set<Container> busy = Collections.newSetFromMap(new IdentityHashMap<>());
		for (Delivery delivery : this.deliveries.collect()) {
			left.add(new InFlight(delivery.container.description, delivery.startedAt(), delivery.thread()));
			busy.add(delivery.container);
		}
		for (Container container : this.containers) {
			Instant stopRequestedAt = container.stopRequestedAt;
			if (stopRequestedAt != null && !container.hasStopped() && !busy.contains(container)) {
				left.add(new InFlight(container.description + " (consumers not stopped yet)", stopRequestedAt, null));
			}
		}
		left.sort(Comparator.comparing(InFlight::startedAt));
		return left;
	}

	private static String destination(DefaultMessageListenerContainer container) {
		String name = container.getDestinationName();
		if (name != null) {
			return name;
		}
		Destination destination = container.getDestination();
		try {
			if (destination instanceof Queue queue) {
				return queue.getQueueName();
			}
			if (destination instanceof Topic topic) {
				return topic.getTopicName();
			}
		}
		catch (JMSException ex) {
			// The provider's own description below.
		}
		return String.valueOf(destination);
	}

	/**
	 * A container, with what its drain is waiting for.
	 */
	final class Container {

		final DefaultMessageListenerContainer container;

		final String name;

		final String description;

		private volatile @Nullable CompletableFuture<Void> stopped;

		private volatile @Nullable Instant stopRequestedAt;

		Container(DefaultMessageListenerContainer container, String name) {
			this.container = container;
			this.name = name;
			this.description = "jms " + name + " destination=" + destination(container);
		}

		/**
		 * Begins counting a message that the container hands to its listener, on the
		 * consumer's thread.
		 * @return the message in flight, to end when the listener returns
		 * @throws IllegalStateException if the containers have drained: the listener must
		 * not run then, and the container rolls the message back
		 */
		Delivery begin() {
			Delivery delivery = new Delivery(this);
			if (!JmsListenerContainers.this.deliveries.begin(delivery)) {
				throw new IllegalStateException("Not processed: the JMS listener containers have drained for shutdown;"
						+ " the message is rolled back for redelivery if the session is transacted");
			}
			return delivery;
		}

		CompletableFuture<Void> stopRequested() {
			CompletableFuture<Void> stopped = new CompletableFuture<>();
			this.stopped = stopped;
			this.stopRequestedAt = Instant.now();
			return stopped;
		}

		boolean hasStopped() {
			CompletableFuture<Void> stopped = this.stopped;
			return stopped != null && stopped.isDone();
		}

		void stop() {
			CompletableFuture<Void> stopped = this.stopped;
			if (stopped == null) {
				return;
			}
			try {
				// Called back on the last consumer's thread once it has parked, under the
				// container's lock, or at once if it is not running. What completing runs
				// there (the seal of the count, the coordinator's next stage) never blocks.
				this.container.stop(() -> stopped.complete(null));
			}
			catch (RuntimeException ex) {
				// The container stopped running before it failed to stop its connection:
				// its consumers still finish what they hold, and call back.
				logger.warn("Stopping JMS listener container '" + this.name + "' failed", ex);
			}
			if (this.container.getActiveConsumerCount() == 0) {
				// No consumer is active to call back: none holds a message either.
				stopped.complete(null);
			}
		}

	}

	/**
	 * One message in a listener.
	 */
	static final class Delivery extends InFlightTracker.Entry {

		final Container container;

		Delivery(Container container) {
			super(Thread.currentThread());
			this.container = container;
		}

		void end() {
			end(Boolean.TRUE);
		}

	}

}
