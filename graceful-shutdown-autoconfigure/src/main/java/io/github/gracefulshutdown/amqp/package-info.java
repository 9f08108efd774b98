/**
 * Spring AMQP's RabbitMQ listener containers as a participant of the one shutdown: every
 * simple and direct container, those that {@code @RabbitListener} endpoints get from the
 * {@code RabbitListenerEndpointRegistry} and container beans alike, stops consuming as the
 * shutdown starts, hands the messages it had fetched but not delivered back to the
 * broker, and has its deliveries in flight finish and be acknowledged inside the
 * deadline ({@link io.github.gracefulshutdown.amqp.RabbitListenerDrain}). Deliveries are
 * counted by an advice around the listener that
 * {@link io.github.gracefulshutdown.amqp.DeliveryCountingPostProcessor} puts first in
 * every container's advice chain.
 */
@NullMarked
package io.github.gracefulshutdown.amqp;

import org.jspecify.annotations.NullMarked;
