/**
 * Spring for Apache Kafka's listener containers as a participant of the one shutdown:
 * {@link io.github.gracefulshutdown.kafka.KafkaListenerDrain} counts the records that
 * every container (those of {@code @KafkaListener} methods and container beans) has in
 * flight, stops the containers polling as the shutdown starts, lets the records in flight
 * finish, asynchronous listener results included, and lets each container commit their
 * offsets before its consumer closes. Records fetched and not processed are not
 * committed: after the rebalance, another instance gets them.
 */
@NullMarked
package io.github.gracefulshutdown.kafka;

import org.jspecify.annotations.NullMarked;
