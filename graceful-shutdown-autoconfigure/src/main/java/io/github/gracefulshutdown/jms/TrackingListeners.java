package io.github.gracefulshutdown.jms;

import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageListener;
import jakarta.jms.Session;

import org.springframework.jms.listener.SessionAwareMessageListener;

/**
 * A container's own listener with each message counted, from the listener's start to its
 * end, on the consumer's thread. The wrapper is of the kind the listener is: a container
 * hands a {@link SessionAwareMessageListener} (as a {@code @JmsListener} method's adapter
 * is) its session, which the listener needs to reply, and a plain
 * {@link MessageListener} only the message. The subscription name that a container
 * derives from its listener was derived when the listener was first set, and stays.
 */
final class TrackingListeners {

	private TrackingListeners() {
	}

	/**
	 * Wraps a container's listener.
	 * @param listener a {@link MessageListener} or a {@link SessionAwareMessageListener},
	 * as a container accepts
	 * @param container where its messages are counted
	 * @return the wrapper, of the same kind
	 */
	@SuppressWarnings("unchecked")
	static Object wrap(Object listener, JmsListenerContainers.Container container) {
		if (listener instanceof SessionAwareMessageListener<?> sessionAware) {
			return new SessionAware((SessionAwareMessageListener<Message>) sessionAware, container);
		}
		if (listener instanceof MessageListener plain) {
			return new Plain(plain, container);
		}
		throw new IllegalArgumentException("Not a JMS message listener: " + listener.getClass().getName());
	}

	static boolean isTracking(Object listener) {
		return listener instanceof SessionAware || listener instanceof Plain;
	}

	private static final class SessionAware implements SessionAwareMessageListener<Message> {

		private final SessionAwareMessageListener<Message> delegate;

		private final JmsListenerContainers.Container container;

		SessionAware(SessionAwareMessageListener<Message> delegate, JmsListenerContainers.Container container) {
			this.delegate = delegate;
			this.container = container;
		}

		@Override
		public void onMessage(Message message, Session session) throws JMSException {
			JmsListenerContainers.Delivery delivery = this.container.begin();
			try {
				this.delegate.onMessage(message, session);
			}
			finally {
				delivery.end();
			}
		}

		@Override
		public String toString() {
			return "Counted " + this.delegate;
		}

	}

	private static final class Plain implements MessageListener {

		private final MessageListener delegate;

		private final JmsListenerContainers.Container container;

		Plain(MessageListener delegate, JmsListenerContainers.Container container) {
			this.delegate = delegate;
			this.container = container;
		}

		@Override
		public void onMessage(Message message) {
			JmsListenerContainers.Delivery delivery = this.container.begin();
			try {
				this.delegate.onMessage(message);
			}
			finally {
				delivery.end();
			}
		}

		@Override
		public String toString() {
			return "Counted " + this.delegate;
		}

	}

}
