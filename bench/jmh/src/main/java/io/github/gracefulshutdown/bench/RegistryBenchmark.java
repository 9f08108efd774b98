package io.github.gracefulshutdown.bench;

import java.util.concurrent.Phaser;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import io.github.gracefulshutdown.TrackedJob;
import io.github.gracefulshutdown.core.CancellableToken;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Cost of tracking one unit of work: the registry's {@code begin}/{@code close} pair
 * against the JDK's nearest equivalents, a {@link Phaser} register/arriveAndDeregister
 * and a bare {@link LongAdder} increment/decrement, plus the clock read that {@code begin}
 * includes.
 * <p>
 * All three share one {@link Scope#Benchmark} state, so with {@code -t 2} both threads
 * hit the same registry, phaser and adder, as concurrent request threads do in an
 * application. Run by {@code bench/registry-jmh.sh}; the thread count is given with
 * {@code -t}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
public class RegistryBenchmark {

	private DefaultJobRegistry registry;

	private Phaser phaser;

	private LongAdder adder;

	@Setup
	public void setUp() {
		this.registry = new DefaultJobRegistry(new CancellableToken());
		// One permanent party that never arrives: the phase never advances and the
		// phaser never terminates, however the benchmark threads interleave.
		this.phaser = new Phaser(1);
		this.adder = new LongAdder();
	}

	@TearDown
	public void checkBalanced() {
		if (this.registry.activeCount() != 0 || this.phaser.getRegisteredParties() != 1
				|| this.phaser.getPhase() != 0 || this.adder.sum() != 0) {
			throw new IllegalStateException("unbalanced: registry=" + this.registry.activeCount() + " phaser="
					+ this.phaser + " adder=" + this.adder.sum());
		}
	}

	@Benchmark
	public TrackedJob registryBeginClose() {
		TrackedJob job = this.registry.begin("job");
		job.close();
		return job;
	}

	@Benchmark
	public void phaserRegisterArrive(Blackhole bh) {
		bh.consume(this.phaser.register());
		bh.consume(this.phaser.arriveAndDeregister());
	}

	/**
	 * The clock read that {@code begin} does to record a job's start: the part of its
	 * cost that a counter without a listing does not pay.
	 */
	@Benchmark
	public long clockRead() {
		return System.currentTimeMillis();
	}

	@Benchmark
	public void longAdderIncrementDecrement() {
		this.adder.increment();
		this.adder.decrement();
	}

}
