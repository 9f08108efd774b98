package io.github.gracefulshutdown.web;

import java.lang.reflect.Field;

import jakarta.servlet.http.HttpServletResponse;
import org.apache.coyote.AbstractProcessor;
import org.apache.coyote.ActionCode;
import org.apache.coyote.ActionHook;
import org.apache.coyote.Processor;
import org.apache.coyote.Response;
import org.apache.coyote.http11.Http11NioProtocol;
import org.jspecify.annotations.Nullable;

import org.springframework.http.HttpHeaders;
import org.springframework.util.ReflectionUtils;

/**
 * Tomcat's NIO HTTP/1.1 protocol, told when to end keep-alive: once told to close
 * connections, every response it commits from then on carries {@code Connection: close}
 * and its connection is closed after it, whatever commits it (a message converter that
 * flushes, an explicit flush, {@code sendError}, a body larger than the buffer, the end of
 * the request). Spring Boot's Tomcat factory creates its connector with this class in
 * place of {@link Http11NioProtocol}; everything else about the protocol is Tomcat's own.
 * <p>
 * A filter cannot do this: keep-alive is decided when the response headers are written,
 * which often happens inside the handler, before a filter gets control back. Tomcat
 * writes them in one place, the processor's {@code COMMIT} action, which every commit of
 * a response reaches through the response's action hook. The hook of each processor this
 * protocol creates is wrapped once, when the processor is created, so a request pays one
 * volatile read per action and nothing else. A response already committed when the drain
 * starts keeps the headers it sent; the next request on its connection, if one comes, is
 * answered with {@code Connection: close} (or {@code 503} once the requests have drained).
 * <p>
 * HTTP/2 streams are served by other processors and never get the header, which HTTP/2
 * forbids; their connections get GOAWAY instead.
 */
public class GracefulHttp11NioProtocol extends Http11NioProtocol {

	// Tomcat has no public way to wrap a response's hook.
	private static final @Nullable Field HOOK = ReflectionUtils.findField(Response.class, "hook");

	static {
		if (HOOK != null) {
			ReflectionUtils.makeAccessible(HOOK);
		}
	}

	private volatile boolean closeConnections;

	/**
	 * Creates the protocol; Tomcat calls this by class name.
	 */
	public GracefulHttp11NioProtocol() {
	}

	/**
	 * Makes every response committed from now on end its connection.
	 */
	public void closeConnections() {
		this.closeConnections = true;
	}

	/**
	 * Says whether responses end their connections.
	 * @return {@code true} once {@link #closeConnections()} has been called
	 */
	public boolean isClosingConnections() {
		return this.closeConnections;
	}

	/**
	 * Says whether this Tomcat lets the protocol see every commit: {@code false} only if
	 * a Tomcat version moved what it relies on, in which case a filter adds the header
	 * where it still can.
	 * @return whether {@code Connection: close} is added at the connector
	 */
	public static boolean isSupported() {
		return HOOK != null;
	}

	@Override
	protected Processor createProcessor() {
		Processor processor = super.createProcessor();
		if (HOOK != null && processor instanceof AbstractProcessor abstractProcessor) {
			Response response = abstractProcessor.getRequest().getResponse();
			if (ReflectionUtils.getField(HOOK, response) instanceof ActionHook original) {
				ReflectionUtils.setField(HOOK, response, new ClosingHook(original, response));
			}
		}
		return processor;
	}

	/**
	 * Adds {@code Connection: close} to a response on its way to being committed, on the
	 * thread that commits it, which is the only one writing its headers then.
	 */
	private final class ClosingHook implements ActionHook {

		private final ActionHook processor;

		private final Response response;

		ClosingHook(ActionHook processor, Response response) {
			this.processor = processor;
			this.response = response;
		}

		@Override
		public void action(ActionCode actionCode, Object param) {
			if (GracefulHttp11NioProtocol.this.closeConnections && commits(actionCode) && !this.response.isCommitted()
					// A 101 switches the connection to another protocol (WebSocket, h2c):
					// closing it would undo the switch.
					&& this.response.getStatus() != HttpServletResponse.SC_SWITCHING_PROTOCOLS) {
				this.response.setHeader(HttpHeaders.CONNECTION, "close");
			}
			this.processor.action(actionCode, param);
		}

		private static boolean commits(ActionCode actionCode) {
			return actionCode == ActionCode.COMMIT || actionCode == ActionCode.CLOSE
					|| actionCode == ActionCode.CLIENT_FLUSH;
		}

	}

}
