package io.github.gracefulshutdown.web;

import java.io.IOException;

import jakarta.servlet.ServletException;
import org.apache.catalina.AccessLog;
import org.apache.catalina.LifecycleException;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ValveBase;

/**
 * Ends each request that {@link InFlightRequests} (or, on reactive Tomcat,
 * {@link ReactiveInFlightRequests}) counts once Tomcat has finished its response, not
 * when the filter chain returns or the WebFlux handling completes. Between the two,
 * Tomcat still writes what the response buffer holds, and an HTTP/1.1 chunked
 * response's last chunk or an HTTP/2 stream's last DATA frame: a request ended earlier
 * lets the drain complete and Tomcat stop while those bytes are unsent, and the summary
 * would say {@code COMPLETED} over a response cut short.
 * <p>
 * Tomcat has one call made after a response is finished, for every request, synchronous
 * or async, HTTP/1.1 or HTTP/2, whatever its outcome: the access log's. This valve is an
 * {@link AccessLog} on the engine, which every container's access logging reaches, and
 * it passes requests through untouched.
 */
public final class TomcatResponsesFinished extends ValveBase implements AccessLog {

	private final Runnable started;

	/**
	 * Creates the valve for the requests that the servlet filter counts.
	 * @param requests the request counter of the same server
	 */
	public TomcatResponsesFinished(InFlightRequests requests) {
		this(requests::endRequestsWhenResponsesFinish);
	}

	/**
	 * Creates the valve for the WebFlux requests of a reactive Tomcat.
	 * @param requests the request counter of the same server
	 */
	public TomcatResponsesFinished(ReactiveInFlightRequests requests) {
		this(requests::endRequestsWhenResponsesFinish);
	}

	private TomcatResponsesFinished(Runnable started) {
		// Async requests pass through it like any other.
		super(true);
		this.started = started;
	}

	@Override
	protected void startInternal() throws LifecycleException {
		super.startInternal();
		// From now on the counter leaves ending its requests to this valve.
		this.started.run();
	}

	@Override
	public void invoke(Request request, Response response) throws IOException, ServletException {
		getNext().invoke(request, response);
	}

	@Override
	public void log(Request request, Response response, long time) {
		EndsWhenResponseFinished.responseFinished(request.getAttribute(EndsWhenResponseFinished.ATTRIBUTE));
	}

	@Override
	public void setRequestAttributesEnabled(boolean requestAttributesEnabled) {
		// Not a log that writes anything: there are no attributes to record.
	}

	@Override
	public boolean getRequestAttributesEnabled() {
		return false;
	}

}
