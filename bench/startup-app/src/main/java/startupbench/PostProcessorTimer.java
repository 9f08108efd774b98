package startupbench;

import java.util.Map;
import java.util.TreeMap;

import org.springframework.beans.BeansException;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.DestructionAwareBeanPostProcessor;
import org.springframework.beans.factory.config.InstantiationAwareBeanPostProcessor;
import org.springframework.beans.factory.support.MergedBeanDefinitionPostProcessor;
import org.springframework.context.ApplicationContextInitializer;
import org.springframework.context.ApplicationEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.event.GenericApplicationListener;
import org.springframework.context.event.GenericApplicationListenerAdapter;
import org.springframework.core.ResolvableType;
import org.springframework.core.metrics.ApplicationStartup;
import org.springframework.core.metrics.StartupStep;

/**
 * Times the starter's bean post-processors, whose calls for every other bean show in no
 * startup step. Added to the bean factory before any post-processor bean exists, it sees
 * each post-processor bean being created and replaces the ones whose class is in the
 * given package by a {@link Timed} wrapper that delegates every call and adds up its time.
 * A wrapper is also the bean's {@link SmartInitializingSingleton} and
 * {@link ApplicationListener}, when the post-processor is one, so those calls are timed
 * too and still happen.
 * <p>
 * Each call also runs inside a startup step of its own ({@value #STEP}, tagged with the
 * post-processor and the phase), so that the beans a call creates (an
 * {@code ObjectProvider.getIfAvailable()}, say) become its children, and
 * {@link StepReport} can leave their time out of the post-processor's own.
 * <p>
 * With {@code skipScan}, the wrapper of {@code BackgroundJobProcessor} does not pass on
 * {@code postProcessAfterInitialization} and {@code afterSingletonsInstantiated}, the two
 * calls that look for {@code @Background} methods: a counterfactual, to measure what the
 * scan costs a start (this app has no {@code @Background} method, so nothing is lost).
 */
final class PostProcessorTimer
		implements ApplicationContextInitializer<ConfigurableApplicationContext>, BeanPostProcessor {

	static final String STEP = "startupbench.post-process";

	private final String prefix;

	private final ApplicationStartup startup;

	private final boolean skipScan;

	private final Map<String, Timed> timed = new TreeMap<>();

	private final Map<String, String> untimed = new TreeMap<>();

	PostProcessorTimer(String prefix, ApplicationStartup startup, boolean skipScan) {
		this.prefix = prefix;
		this.startup = startup;
		this.skipScan = skipScan;
	}

	@Override
	public void initialize(ConfigurableApplicationContext context) {
		context.getBeanFactory().addBeanPostProcessor(this);
	}

	@Override
	public Object postProcessAfterInitialization(Object bean, String beanName) throws BeansException {
		if (!(bean instanceof BeanPostProcessor processor) || !bean.getClass().getName().startsWith(this.prefix)) {
			return bean;
		}
		// A wrapper would hide these interfaces, and with them the calls Spring makes through them.
		if (bean instanceof InstantiationAwareBeanPostProcessor || bean instanceof DestructionAwareBeanPostProcessor
				|| bean instanceof MergedBeanDefinitionPostProcessor) {
			this.untimed.put(beanName, bean.getClass().getName());
			return bean;
		}
		boolean skip = this.skipScan && bean.getClass().getName().endsWith(".BackgroundJobProcessor");
		Timed wrapper = new Timed(processor, beanName, this.startup, skip);
		this.timed.put(beanName, wrapper);
		return wrapper;
	}

	Map<String, Timed> timed() {
		return this.timed;
	}

	Map<String, String> untimed() {
		return this.untimed;
	}

	/** Delegates to a post-processor and adds up the time of each kind of call. */
	static final class Timed implements BeanPostProcessor, SmartInitializingSingleton, GenericApplicationListener {

		final BeanPostProcessor delegate;

		final boolean skipScan;

		private final String name;

		private final ApplicationStartup startup;

		private final GenericApplicationListenerAdapter listener;

		long beforeCalls;

		long beforeNanos;

		long afterCalls;

		long afterNanos;

		long smartInitializeNanos;

		long eventCalls;

		long eventNanos;

		Timed(BeanPostProcessor delegate, String name, ApplicationStartup startup, boolean skipScan) {
			this.delegate = delegate;
			this.name = name;
			this.startup = startup;
			this.skipScan = skipScan;
			this.listener = (delegate instanceof ApplicationListener<?> l) ? new GenericApplicationListenerAdapter(l)
					: null;
		}

		private StartupStep step(String phase) {
			return this.startup.start(STEP).tag("processor", this.name).tag("phase", phase);
		}

		@Override
		public Object postProcessBeforeInitialization(Object bean, String beanName) throws BeansException {
			StartupStep step = step("before");
			long start = System.nanoTime();
			try {
				return this.delegate.postProcessBeforeInitialization(bean, beanName);
			}
			finally {
				this.beforeNanos += System.nanoTime() - start;
				this.beforeCalls++;
				step.end();
			}
		}

		@Override
		public Object postProcessAfterInitialization(Object bean, String beanName) throws BeansException {
			if (this.skipScan) {
				return bean;
			}
			StartupStep step = step("after");
			long start = System.nanoTime();
			try {
				return this.delegate.postProcessAfterInitialization(bean, beanName);
			}
			finally {
				this.afterNanos += System.nanoTime() - start;
				this.afterCalls++;
				step.end();
			}
		}

		@Override
		public void afterSingletonsInstantiated() {
			if (this.delegate instanceof SmartInitializingSingleton smart && !this.skipScan) {
				StartupStep step = step("smart-initialize");
				long start = System.nanoTime();
				smart.afterSingletonsInstantiated();
				this.smartInitializeNanos += System.nanoTime() - start;
				step.end();
			}
		}

		@Override
		public boolean supportsEventType(ResolvableType eventType) {
			return this.listener != null && this.listener.supportsEventType(eventType);
		}

		@Override
		public void onApplicationEvent(ApplicationEvent event) {
			StartupStep step = step("event");
			long start = System.nanoTime();
			this.listener.onApplicationEvent(event);
			this.eventNanos += System.nanoTime() - start;
			this.eventCalls++;
			step.end();
		}

	}

}
