package io.github.gracefulshutdown.web;

import jakarta.servlet.http.HttpServletRequest;

import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;

/**
 * The one place where the reactive request counter touches the servlet API: only
 * reached on reactive Tomcat, whose jar holds it, so a WebFlux application on Reactor
 * Netty needs none.
 */
final class TomcatReactiveRequests {

	private TomcatReactiveRequests() {
	}

	/**
	 * Hands the end of a request to {@link TomcatResponsesFinished}, if the request is
	 * one of a servlet container's.
	 * @return whether the server will end it
	 */
	static boolean endWhenResponseFinished(ServerHttpRequest request, EndsWhenResponseFinished entry) {
		if (ServerHttpRequestDecorator.getNativeRequest(request) instanceof HttpServletRequest servletRequest) {
			servletRequest.setAttribute(EndsWhenResponseFinished.ATTRIBUTE, entry);
			return true;
		}
		return false;
	}

}
