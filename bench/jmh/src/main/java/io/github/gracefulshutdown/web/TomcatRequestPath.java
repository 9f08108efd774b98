package io.github.gracefulshutdown.web;

import java.io.IOException;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * The per-request path as it runs on Tomcat, for the benchmark: the filter hands the
 * request's entry over in a request attribute, and Tomcat's access-log call, once the
 * response is finished, ends it ({@link TomcatResponsesFinished#log}). In this package
 * (of the benchmark's jar) because that path is package-private in the starter.
 */
public final class TomcatRequestPath {

	private TomcatRequestPath() {
	}

	/**
	 * Puts a filter in the mode Tomcat's valve puts it in when Tomcat starts.
	 * @param filter the filter
	 * @return the filter
	 */
	public static InFlightRequests endedByTheServer(InFlightRequests filter) {
		filter.endRequestsWhenResponsesFinish();
		return filter;
	}

	/**
	 * One request: the filter, then what the valve does once the response is finished,
	 * then what Tomcat's recycling does to the request's attributes.
	 */
	public static void serve(InFlightRequests filter, HttpServletRequest request, HttpServletResponse response,
			FilterChain chain) throws IOException, ServletException {
		filter.doFilter(request, response, chain);
		EndsWhenResponseFinished.responseFinished(request.getAttribute(EndsWhenResponseFinished.ATTRIBUTE));
		request.removeAttribute(EndsWhenResponseFinished.ATTRIBUTE);
	}

}
