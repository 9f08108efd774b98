/**
 * The web server as a participant of the one shutdown: servlet requests counted and
 * drained by {@link io.github.gracefulshutdown.web.InFlightRequests}, reactive (WebFlux)
 * requests by {@link io.github.gracefulshutdown.web.ReactiveInFlightRequests}, WebFlux
 * WebSocket sessions closed as draining starts by
 * {@link io.github.gracefulshutdown.web.WebSocketSessions}. Tomcat's connectors are closed
 * here; other servers are drained by Spring Boot's own graceful shutdown, started inside
 * the deadline. The servlet API is touched only by the servlet classes (and by Tomcat's,
 * whose jar holds it), so a reactive application without it loads none of them.
 */
@NullMarked
package io.github.gracefulshutdown.web;

import org.jspecify.annotations.NullMarked;
