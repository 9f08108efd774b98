/**
 * The web server as a participant of the one shutdown: servlet requests counted and
 * drained by {@link io.github.gracefulshutdown.web.InFlightRequests} (Tomcat's
 * connectors closed here, other servers through Spring Boot's own drain), reactive
 * servers drained by {@link io.github.gracefulshutdown.web.WebServerDrain}. The servlet
 * API is touched only by the servlet classes, so a reactive application without it
 * loads none of them.
 */
@NullMarked
package io.github.gracefulshutdown.web;

import org.jspecify.annotations.NullMarked;
