package io.github.gracefulshutdown.demo;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

import io.github.gracefulshutdown.Background;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.stereotype.Component;

/**
 * A job named {@code blocked-io} stuck in socket I/O, like a JDBC or HTTP client without
 * timeouts: it connects to a server socket of its own (on {@code 127.0.0.1}, a free port)
 * that accepts the connection and never writes, then blocks in
 * {@code socket.getInputStream().read()} with no read timeout. It ignores the token.
 * <p>
 * {@code Thread.interrupt()} does not unblock such a read on a platform thread; on a
 * virtual thread it closes the socket and the read fails. Either way shutdown must end
 * by its deadline and name the job. Off unless {@code demo.blocked-io.enabled=true}.
 */
@Component
@ConditionalOnBooleanProperty("demo.blocked-io.enabled")
class BlockedReader {

	private static final Log logger = LogFactory.getLog(BlockedReader.class);

	@Background(name = "blocked-io")
	void readForever() throws IOException {
		try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
				Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
				Socket accepted = server.accept()) {
			// No setSoTimeout: the read waits for as long as the peer stays silent.
			InputStream in = client.getInputStream();
			logger.info("blocked-io: connected to 127.0.0.1:" + server.getLocalPort() + " (accepted from port "
					+ accepted.getPort() + "); reading with no timeout");
			long start = System.nanoTime();
			try {
				int read = in.read();
				logger.info("blocked-io: the read returned " + read + " after " + millisSince(start) + " ms");
			}
			catch (IOException ex) {
				// On a virtual thread an interrupt closes the socket and ends the read here.
				logger.info("blocked-io: the read ended after " + millisSince(start) + " ms with " + ex
						+ " (interrupted: " + Thread.currentThread().isInterrupted() + ")");
				throw ex;
			}
		}
	}

	private static long millisSince(long startNanos) {
		return (System.nanoTime() - startNanos) / 1_000_000;
	}

}
