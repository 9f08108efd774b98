/**
 * Spring JMS listener containers as a participant of the one shutdown: every
 * {@link org.springframework.jms.listener.DefaultMessageListenerContainer}, those that
 * {@code @JmsListener} methods get from the
 * {@link org.springframework.jms.config.JmsListenerEndpointRegistry} and those declared
 * as beans, stops receiving as the shutdown starts and finishes the messages its
 * listeners hold, inside the deadline
 * ({@link io.github.gracefulshutdown.jms.JmsListenerContainers}). Each message is counted
 * from the listener's start to its end, by a wrapper around the container's listener
 * that {@link io.github.gracefulshutdown.jms.JmsListenerTracking} puts in place before
 * any container starts.
 */
@NullMarked
package io.github.gracefulshutdown.jms;

import org.jspecify.annotations.NullMarked;
