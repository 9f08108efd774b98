package io.github.gracefulshutdown.kafka;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import io.github.gracefulshutdown.ShutdownParticipant;
import io.github.gracefulshutdown.core.Units;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.kafka.config.KafkaListenerEndpointRegistry;
import org.springframework.kafka.listener.AbstractMessageListenerContainer;
import org.springframework.kafka.listener.BatchInterceptor;
import org.springframework.kafka.listener.BatchMessageListener;
import org.springframework.kafka.listener.CompositeBatchInterceptor;
import org.springframework.kafka.listener.CompositeRecordInterceptor;
import org.springframework.kafka.listener.ContainerProperties;
import org.springframework.kafka.listener.DelegatingMessageListener;
import org.springframework.kafka.listener.ListenerType;
import org.springframework.kafka.listener.ListenerUtils;
import org.springframework.kafka.listener.MessageListener;
import org.springframework.kafka.listener.MessageListenerContainer;
import org.springframework.kafka.listener.RecordInterceptor;
import org.springframework.kafka.listener.adapter.AsyncRepliesAware;

/**
 * Every Kafka listener container of the application as one participant of the shutdown:
 * the containers of {@code @KafkaListener} methods, in the
 * {@link KafkaListenerEndpointRegistry}, and container beans.
 * <p>
 * <b>Before any container starts</b> (this is a {@link SmartLifecycle} in the first
 * phase), each one is given an interceptor that counts its records in flight, after the
 * application's own interceptors, and is set to stop immediately
 * ({@link ContainerProperties#setStopImmediate}): when it stops, it finishes the record
 * in hand rather than every record of the last poll, and the records it fetched and did
 * not process are not committed, so that after the rebalance another instance gets them.
 * A listener whose results complete asynchronously is wrapped by
 * {@link AsyncResultTracking}, so that a record counts until its result has acknowledged
 * it.
 * <p>
 * <b>When the shutdown starts</b> (by default, before the drain delay), every container
 * is stopped with {@code stop(callback)}, which returns at once: its consumer thread
 * finishes the record in hand, leaves the poll loop, commits the offsets of what it
 * finished and closes the consumer, then calls back. A container with asynchronous
 * results is paused instead, and stopped once they have all completed, since Spring for
 * Apache Kafka 4.1 commits only what was acknowledged when the thread leaves. The drain
 * completes when every container has called back and no record is in flight. Spring's
 * own lifecycle phase for the containers, later, finds them stopped and adds no wait.
 * <p>
 * <b>At the deadline</b>, every record still in flight is named,
 * {@code kafka <listener id> <topic>-<partition>@<offset>}, with the consumer thread
 * working on it, and stays listed until it has really ended. Containers waiting for
 * asynchronous results are stopped then.
 */
public final class KafkaListenerDrain implements ShutdownParticipant, SmartLifecycle {

	/** Before every container, whatever its phase: they must be prepared unstarted. */
	static final int PHASE = Integer.MIN_VALUE;

	private static final Log logger = LogFactory.getLog(KafkaListenerDrain.class);

	private final ListableBeanFactory beanFactory;

	private final boolean drainsAtShutdownStart;

	// Identity: containers are not values. Guarded by itself.
	private final Map<MessageListenerContainer, ListenerTracking> tracked = new IdentityHashMap<>();

	private final List<Stopping> stopping = new CopyOnWriteArrayList<>();

	private final AtomicReference<@Nullable CompletableFuture<Void>> drained = new AtomicReference<>();

	private volatile boolean started;

	private volatile boolean running;

	/**
	 * Creates the participant.
	 * @param beanFactory where the containers and their registries are
	 * @param drainsAtShutdownStart whether the containers stop as the shutdown starts,
	 * before the drain delay ({@code graceful-shutdown.stop-consuming=immediately})
	 */
	public KafkaListenerDrain(ListableBeanFactory beanFactory, boolean drainsAtShutdownStart) {
		this.beanFactory = beanFactory;
		this.drainsAtShutdownStart = drainsAtShutdownStart;
	}

	// ---- Before the containers start ---------------------------------------------

	/**
	 * Prepares every container found: they all exist by now (the registry creates those
	 * of {@code @KafkaListener} methods once every singleton is instantiated), and none
	 * has started.
	 */
	@Override
	public void start() {
		for (MessageListenerContainer container : findContainers()) {
			prepare(container);
		}
		this.started = true;
		this.running = true;
	}

	@SuppressWarnings("unchecked")
	private void prepare(MessageListenerContainer container) {
		synchronized (this.tracked) {
			if (this.tracked.containsKey(container)) {
				return;
			}
		}
		String id = listenerId(container);
		if (!(container instanceof AbstractMessageListenerContainer<?, ?> candidate)) {
			logger.debug("Kafka listener container '" + id + "' is a " + container.getClass().getName()
					+ ": it is stopped at shutdown, its records are not counted");
			return;
		}
		if (candidate.isRunning()) {
			logger.warn("Kafka listener container '" + id + "' started before graceful shutdown could count its "
					+ "records: it is stopped at shutdown, but its records in flight are not counted or awaited");
			return;
		}
		AbstractMessageListenerContainer<Object, Object> prepared = (AbstractMessageListenerContainer<Object, Object>) candidate;
		ContainerProperties properties = prepared.getContainerProperties();
		Object listener = properties.getMessageListener();
		// As the container decides it: asked of the outermost listener only.
		boolean asyncResults = (listener instanceof AsyncRepliesAware aware && aware.isAsyncReplies())
				|| properties.isAsyncAcks();
		boolean trackResults = asyncResults && !(listener instanceof BatchMessageListener)
				&& listener instanceof MessageListener && acknowledges(listener);
		if (asyncResults && !trackResults) {
			logger.warn("Kafka listener container '" + id + "' completes records asynchronously in a way graceful "
					+ "shutdown cannot follow (a batch listener, or one without an Acknowledgment): its records count "
					+ "as done when the listener returns, and results still pending at shutdown are not awaited");
		}
		ListenerTracking tracking = new ListenerTracking(id, trackResults);
		RecordInterceptor<Object, Object> recordInterceptor = prepared.getRecordInterceptor();
		prepared.setRecordInterceptor((recordInterceptor != null)
				? new CompositeRecordInterceptor<>(recordInterceptor, tracking) : tracking);
		BatchInterceptor<Object, Object> batchInterceptor = prepared.getBatchInterceptor();
		prepared.setBatchInterceptor((batchInterceptor != null)
				? new CompositeBatchInterceptor<>(batchInterceptor, tracking) : tracking);
		// Stop after the record in hand, not after every record of the last poll: what
		// was fetched and not processed is not committed, and goes to the next owner.
		properties.setStopImmediate(true);
		if (trackResults) {
			prepared.setupMessageListener(new AsyncResultTracking((MessageListener<Object, Object>) listener, tracking));
		}
		synchronized (this.tracked) {
			this.tracked.put(container, tracking);
		}
	}

	/**
	 * Whether the listener is handed the record's {@code Acknowledgment}, with which an
	 * asynchronous result says it has completed. The container calls it as it would the
	 * innermost listener.
	 */
	private static boolean acknowledges(Object listener) {
		Object innermost = listener;
		while (innermost instanceof DelegatingMessageListener<?> delegating) {
			innermost = delegating.getDelegate();
		}
		ListenerType type = ListenerUtils.determineListenerType(innermost);
		return type == ListenerType.ACKNOWLEDGING_CONSUMER_AWARE || type == ListenerType.ACKNOWLEDGING;
	}

	/**
	 * Returns the containers of every registry and the container beans, each once.
	 */
	private List<MessageListenerContainer> findContainers() {
		List<MessageListenerContainer> found = new ArrayList<>();
		for (KafkaListenerEndpointRegistry registry : this.beanFactory
			.getBeansOfType(KafkaListenerEndpointRegistry.class, false, false)
			.values()) {
			addOnce(found, registry.getListenerContainers());
		}
		addOnce(found, this.beanFactory.getBeansOfType(MessageListenerContainer.class, false, false).values());
		return found;
	}

	private static void addOnce(List<MessageListenerContainer> found, Collection<MessageListenerContainer> more) {
		for (MessageListenerContainer container : more) {
			if (found.stream().noneMatch((known) -> known == container)) {
				found.add(container);
			}
		}
	}

	private static String listenerId(MessageListenerContainer container) {
		String id = container.getListenerId();
		return (id != null) ? id : container.getClass().getSimpleName();
	}

	@Override
	public void stop() {
		// Nothing to stop: the containers are the shutdown sequence's, in drain().
		this.running = false;
	}

	@Override
	public boolean isRunning() {
		return this.running;
	}

	@Override
	public int getPhase() {
		return PHASE;
	}

	// ---- The shutdown ---------------------------------------------------------------

	@Override
	public String name() {
		return Units.MESSAGE;
	}

	/**
	 * Says yes unless {@code graceful-shutdown.stop-consuming=after-drain-delay}, or
	 * there is no container: the log then says no consumer stopped fetching.
	 */
	@Override
	public boolean drainsAtShutdownStart() {
		return this.drainsAtShutdownStart && !findContainers().isEmpty();
	}

	/**
	 * Stops every container, without waiting: each finishes the record in hand (a
	 * container with asynchronous results is paused until they have completed), commits
	 * the offsets of what it finished and closes its consumer.
	 * @return a stage that completes when every container has stopped and no record is
	 * in flight
	 */
	@Override
	public CompletionStage<?> drain() {
		CompletableFuture<Void> drain = new CompletableFuture<>();
		if (!this.drained.compareAndSet(null, drain)) {
			return this.drained.get();
		}
		List<CompletableFuture<Void>> stopped = new ArrayList<>();
		for (MessageListenerContainer container : findContainers()) {
			stopped.add(stop(container));
		}
		CompletableFuture.allOf(stopped.toArray(CompletableFuture[]::new))
			// An asynchronous result may still be pending after its container stopped.
			.thenCompose((ignored) -> CompletableFuture.allOf(trackings().stream()
				.map(ListenerTracking::whenEmpty)
				.toArray(CompletableFuture[]::new)))
			.whenComplete((ignored, ex) -> drain.complete(null));
		return drain;
	}

	private CompletableFuture<Void> stop(MessageListenerContainer container) {
		ListenerTracking tracking;
		synchronized (this.tracked) {
			tracking = this.tracked.get(container);
		}
		Stopping stopping = new Stopping(container, tracking);
		this.stopping.add(stopping);
		if (tracking != null && tracking.awaitsResults()) {
			tracking.stopping();
			// Polls no more, and keeps taking in the results' acknowledgments and
			// committing them until the last one has come.
			container.pause();
			tracking.whenResultsCompleteOrReleased().whenComplete((ignored, ex) -> stopping.request());
		}
		else {
			stopping.request();
		}
		if (tracking == null) {
			return stopping.stopped;
		}
		return stopping.stopped.thenRun(tracking::consumersEnded);
	}

	@Override
	public OptionalLong inFlightCount() {
		if (!counts()) {
			return OptionalLong.empty();
		}
		return OptionalLong.of(trackings().stream().mapToLong(ListenerTracking::activeCount).sum());
	}

	@Override
	public OptionalLong completedCount() {
		if (!counts()) {
			return OptionalLong.empty();
		}
		return OptionalLong.of(trackings().stream().mapToLong(ListenerTracking::completedCount).sum());
	}

	/**
	 * Counts once a container is prepared, so that an application without a Kafka
	 * listener reads no {@code 0 messages} in its log. Before then, when the meters are
	 * bound, the registry may not have created its containers yet: it counts if there is
	 * a registry or a container bean, so that the gauge of messages in flight exists.
	 */
	private boolean counts() {
		if (this.started) {
			synchronized (this.tracked) {
				return !this.tracked.isEmpty();
			}
		}
		return this.beanFactory.getBeanNamesForType(KafkaListenerEndpointRegistry.class, false, false).length > 0
				|| this.beanFactory.getBeanNamesForType(MessageListenerContainer.class, false, false).length > 0;
	}

	/**
	 * Returns the records in flight, oldest first, with the consumer thread working on
	 * each (none for a result pending asynchronously).
	 */
	@Override
	public List<InFlight> inFlight() {
		List<InFlight> left = new ArrayList<>();
		for (ListenerTracking tracking : trackings()) {
			tracking.active().forEach((record) -> left.add(record.toInFlight()));
		}
		left.sort(Comparator.comparing(InFlight::startedAt));
		return left;
	}

	/**
	 * Names what is left: the records still in flight, and the containers asked to stop
	 * whose consumer is still committing or closing with no record left (a commit that
	 * blocks on an unreachable broker, for one). Then lets every consumer thread held
	 * for asynchronous results go, which stops the containers waiting for them; the
	 * records stay listed by {@link #inFlight()} until they end.
	 */
	@Override
	public List<InFlight> deadlinePassed() {
		List<InFlight> left = inFlight();
		for (Stopping stopping : this.stopping) {
			InFlight closing = stopping.stillClosing();
			if (closing != null) {
				left.add(closing);
			}
		}
		left.sort(Comparator.comparing(InFlight::startedAt));
		trackings().forEach(ListenerTracking::release);
		return left;
	}

	private List<ListenerTracking> trackings() {
		synchronized (this.tracked) {
			return List.copyOf(this.tracked.values());
		}
	}

	/**
	 * One container being stopped.
	 */
	private static final class Stopping {

		private final MessageListenerContainer container;

		private final @Nullable ListenerTracking tracking;

		private final CompletableFuture<Void> stopped = new CompletableFuture<>();

		private final AtomicBoolean requested = new AtomicBoolean();

		private volatile @Nullable Instant requestedAt;

		Stopping(MessageListenerContainer container, @Nullable ListenerTracking tracking) {
			this.container = container;
			this.tracking = tracking;
		}

		/**
		 * Asks the container to stop, once: asked again, a container that is no longer
		 * running calls back at once, while its consumer may still be closing.
		 */
		void request() {
			if (!this.requested.compareAndSet(false, true)) {
				return;
			}
			this.requestedAt = Instant.now();
			try {
				this.container.stop(() -> this.stopped.complete(null));
			}
			catch (RuntimeException ex) {
				logger.error("Kafka listener container '" + listenerId(this.container) + "' failed to stop", ex);
				this.stopped.complete(null);
			}
		}

		/**
		 * Describes the container if it was asked to stop and has not yet, with no
		 * record in flight: its consumer is committing offsets or closing.
		 */
		@Nullable InFlight stillClosing() {
			Instant requestedAt = this.requestedAt;
			if (requestedAt == null || this.stopped.isDone()
					|| (this.tracking != null && this.tracking.activeCount() > 0)) {
				return null;
			}
			return new InFlight("kafka " + listenerId(this.container) + " consumer stopping (committing offsets, "
					+ "closing the consumer)", requestedAt, null);
		}

	}

}
