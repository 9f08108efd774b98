package io.github.gracefulshutdown.bench;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

import io.github.gracefulshutdown.web.InFlightRequests;
import io.github.gracefulshutdown.web.TomcatRequestPath;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.ThreadParams;

import org.springframework.context.support.GenericApplicationContext;
import org.springframework.http.HttpHeaders;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

/**
 * What request tracking adds to every request: {@link InFlightRequests#doFilter} (the
 * filter and its {@code InFlightTracker} begin/end) around a {@link FilterChain} that
 * does nothing, against that chain called directly. The difference of the two scores is
 * our cost per request, in nanoseconds; the budget is about 280 ns (1 % of the ~28 µs of
 * CPU a trivial request costs on the 2-core machine, see issue 14).
 * <p>
 * One filter per trial, shared by all threads ({@link Scope#Benchmark}), as an
 * application has one filter for all its request threads; each benchmark comes with 1 and
 * 2 threads ({@code _t1}, {@code _t2}), so the 2-thread figures include whatever the
 * threads do to each other through the tracker's stripes and counts. {@code filterOwn_t2}
 * gives each of the 2 threads a filter of its own, so that nothing is shared: what
 * {@code filter_t2} costs more than it is the sharing (two threads whose requests land
 * in one stripe contend on it; the fork's output says which stripe each thread uses).
 * With 2 threads on the 2-core machine, anything else running takes a core from the
 * benchmark: {@code direct_t2} against {@code direct_t1} shows how much.
 * <p>
 * The request and response are Spring's mocks, built once per thread and reused for
 * every call. That is fair, and measures our code rather than the allocation of two mock
 * objects of a dozen collections each, because outside a drain the filter only reads
 * them: the dispatcher type, the method, URI, remote address and port, and
 * {@code isAsyncStarted()}. It sets no header, no status and commits nothing until
 * readiness has flipped, which never happens here; {@link Exchange#checkUntouched} fails
 * the run if either object was changed. A real container reuses its request objects too
 * (Tomcat recycles them). The getters of a Tomcat request do a little more than the
 * mock's field reads (the URI is decoded to a {@code String} once and cached); Spring
 * MVC reads the same values for the same request, so the first read is not ours alone,
 * and it is left out here.
 * <p>
 * The chain's {@code doFilter} is never inlined, so both sides pay one real call into
 * the rest of the request, as in a server, and the JIT cannot remove the direct side's
 * work altogether. Run by {@code bench/request-path-jmh.sh}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class RequestPathBenchmark {

	/** The application's one filter, shared by every request thread. */
	@State(Scope.Benchmark)
	public static class Server {

		InFlightRequests filter;

		@Setup(Level.Trial)
		public void setUp() {
			// The context is used only by drain(), to find the web server; never here.
			this.filter = new InFlightRequests(new GenericApplicationContext());
		}

		@TearDown(Level.Trial)
		public void checkBalanced() {
			OptionalLong inFlight = this.filter.inFlightCount();
			OptionalLong completed = this.filter.completedCount();
			if (inFlight.orElse(-1) != 0 || completed.orElse(0) <= 0) {
				throw new IllegalStateException(
						"unbalanced tracker: inFlight=" + inFlight + " completed=" + completed);
			}
		}

	}

	/**
	 * A filter of each thread's own, for {@code filterOwn_t2}: the same work as
	 * {@code filter_t2} with nothing shared between the threads, so the difference of the
	 * two is what sharing one tracker costs (two threads in one stripe contend on it).
	 */
	@State(Scope.Thread)
	public static class OwnServer extends Server {

	}

	/**
	 * The filter as it runs on Tomcat: the request's end is left to Tomcat's access-log
	 * call once the response is finished, which {@code filterTomcat_t1} makes as Tomcat
	 * does, so it adds a request attribute set, read and removed to the filter's cost.
	 */
	@State(Scope.Benchmark)
	public static class TomcatServer extends Server {

		@Override
		@Setup(Level.Trial)
		public void setUp() {
			super.setUp();
			TomcatRequestPath.endedByTheServer(this.filter);
		}

	}

	/** One request thread's request, response and chain, reused for every call. */
	@State(Scope.Thread)
	public static class Exchange {

		MockHttpServletRequest request;

		MockHttpServletResponse response;

		FilterChain chain;

		@Setup(Level.Trial)
		public void setUp(ThreadParams thread) {
			this.request = new MockHttpServletRequest("GET", "/hello");
			this.request.setRemoteAddr("127.0.0.1");
			this.request.setRemotePort(40000 + thread.getThreadIndex());
			this.response = new MockHttpServletResponse();
			this.chain = new NoOpChain();
		}

		@TearDown(Level.Trial)
		public void checkUntouched() {
			if (this.response.isCommitted() || this.response.getStatus() != 200
					|| this.response.getHeader(HttpHeaders.CONNECTION) != null || this.request.isAsyncStarted()) {
				throw new IllegalStateException("the filter changed the reused request or response: status "
						+ this.response.getStatus() + ", headers " + this.response.getHeaderNames());
			}
		}

	}

	/**
	 * Which stripe of the shared tracker a thread's requests go to, printed once per
	 * thread in the fork's output as a {@code [stripe]} line.
	 */
	@State(Scope.Thread)
	public static class StripeProbe {

		/**
		 * Prints which stripe of a tracker this thread's requests go to: two threads in one
		 * stripe contend on it, which explains a slow 2-thread run. Best effort, through
		 * reflection on package-private code; it prints nothing if that code changed.
		 */
		@Setup(Level.Trial)
		public void print(Server server) {
			try {
				Field requests = InFlightRequests.class.getDeclaredField("requests");
				requests.setAccessible(true);
				Object tracker = requests.get(server.filter);
				Method stripeIndex = tracker.getClass().getDeclaredMethod("stripeIndex", Thread.class);
				stripeIndex.setAccessible(true);
				Field stripes = tracker.getClass().getDeclaredField("stripes");
				stripes.setAccessible(true);
				System.out.println("[stripe] " + Thread.currentThread().getName() + " (id "
						+ Thread.currentThread().getId() + "): stripe "
						+ stripeIndex.invoke(tracker, Thread.currentThread()) + " of "
						+ ((Object[]) stripes.get(tracker)).length);
			}
			catch (ReflectiveOperationException | RuntimeException ex) {
				// Diagnostics only.
			}
		}

	}

	/** The rest of the request: the servlet and any other filter. Does nothing. */
	static final class NoOpChain implements FilterChain {

		@Override
		@CompilerControl(CompilerControl.Mode.DONT_INLINE)
		public void doFilter(ServletRequest request, ServletResponse response) {
		}

	}

	@Benchmark
	@Threads(1)
	public void direct_t1(Exchange exchange) throws Exception {
		direct(exchange);
	}

	@Benchmark
	@Threads(1)
	public void filter_t1(Server server, Exchange exchange) throws Exception {
		filter(server, exchange);
	}

	@Benchmark
	@Threads(1)
	public void filterTomcat_t1(TomcatServer server, Exchange exchange) throws Exception {
		TomcatRequestPath.serve(server.filter, exchange.request, exchange.response, exchange.chain);
	}

	@Benchmark
	@Threads(2)
	public void direct_t2(Exchange exchange) throws Exception {
		direct(exchange);
	}

	@Benchmark
	@Threads(2)
	public void filter_t2(Server server, Exchange exchange, StripeProbe probe) throws Exception {
		filter(server, exchange);
	}

	@Benchmark
	@Threads(2)
	public void filterOwn_t2(OwnServer server, Exchange exchange) throws Exception {
		filter(server, exchange);
	}

	private static void direct(Exchange exchange) throws IOException, ServletException {
		exchange.chain.doFilter(exchange.request, exchange.response);
	}

	private static void filter(Server server, Exchange exchange) throws IOException, ServletException {
		server.filter.doFilter(exchange.request, exchange.response, exchange.chain);
	}

}
