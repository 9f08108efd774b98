package io.github.gracefulshutdown.background;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;

import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.JobRegistry;
import io.github.gracefulshutdown.ShutdownToken;
import io.micrometer.observation.ObservationRegistry;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.aop.support.AopUtils;
import org.springframework.beans.BeansException;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.BeanFactoryAware;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.thread.Threading;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationContextAware;
import org.springframework.context.ApplicationListener;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.MethodIntrospector;
import org.springframework.core.annotation.AnnotatedElementUtils;
import org.springframework.core.annotation.AnnotationUtils;
import org.springframework.core.task.VirtualThreadTaskExecutor;
import org.springframework.util.StringUtils;

/**
 * Finds {@link Background @Background} methods as beans are created, rejects the ones
 * that cannot run, and starts each on its own thread once the application is ready.
 * <p>
 * A method on a lazy or prototype bean would never be started, or started once per
 * instance, so it is rejected at startup too, even though such a bean may never be
 * created: nothing declared is ever silently ignored.
 */
public class BackgroundJobProcessor implements BeanPostProcessor, SmartInitializingSingleton, BeanFactoryAware,
		ApplicationContextAware, ApplicationListener<ApplicationReadyEvent> {

	private static final Log logger = LogFactory.getLog(BackgroundJobProcessor.class);

	private static final String ALLOWED_SIGNATURES = "Declare it as 'void m()' or 'void m(ShutdownToken token)', "
			+ "neither static nor private, on an eagerly created singleton bean.";

	private final ObjectProvider<ShutdownToken> token;

	private final ObjectProvider<JobRegistry> registry;

	private final ObjectProvider<ObservationRegistry> observations;

	private final BackgroundJob.Backoff backoff;

	private final Map<String, Definition> definitions = new LinkedHashMap<>();

	private final AtomicBoolean started = new AtomicBoolean();

	private final boolean startJobs;

	private ConfigurableListableBeanFactory beanFactory;

	private ApplicationContext context;

	/**
	 * Creates a processor.
	 * @param token the token the jobs watch
	 * @param registry the registry the jobs are tracked in
	 * @param observations where each run of a job is observed, if anywhere
	 * @param restartInitialBackoff the first delay before a failed job restarts
	 * @param restartMaxBackoff the longest delay before a failed job restarts
	 */
	public BackgroundJobProcessor(ObjectProvider<ShutdownToken> token, ObjectProvider<JobRegistry> registry,
			ObjectProvider<ObservationRegistry> observations, Duration restartInitialBackoff,
			Duration restartMaxBackoff) {
		this(token, registry, observations, new BackgroundJob.Backoff(restartInitialBackoff, restartMaxBackoff), true);
	}

	private BackgroundJobProcessor(ObjectProvider<ShutdownToken> token, ObjectProvider<JobRegistry> registry,
			ObjectProvider<ObservationRegistry> observations, BackgroundJob.Backoff backoff, boolean startJobs) {
		this.token = token;
		this.registry = registry;
		this.observations = observations;
		this.backoff = backoff;
		this.startJobs = startJobs;
	}

	/**
	 * Creates a processor for {@code graceful-shutdown.enabled=false}: it still validates
	 * {@code @Background} methods, but starts none of them, and says so once the
	 * application is ready, naming each.
	 * @return the processor
	 */
	public static BackgroundJobProcessor disabled() {
		return new BackgroundJobProcessor(null, null, null, null, false);
	}

	@Override
	public void setBeanFactory(BeanFactory beanFactory) {
		this.beanFactory = (beanFactory instanceof ConfigurableListableBeanFactory listable) ? listable : null;
	}

	@Override
	public void setApplicationContext(ApplicationContext context) {
		this.context = context;
	}

	@Override
	public Object postProcessAfterInitialization(Object bean, String beanName) throws BeansException {
		Class<?> type = AopUtils.getTargetClass(bean);
		Map<Method, Background> methods = findBackgroundMethods(type);
		if (methods.isEmpty()) {
			return bean;
		}
		BeanDefinition definition = mergedDefinition(beanName);
		methods.forEach((method, annotation) -> {
			validate(beanName, definition, method);
			String name = StringUtils.hasText(annotation.name()) ? annotation.name()
					: beanName + "." + method.getName();
			Definition existing = this.definitions.get(name);
			if (existing != null) {
				throw new BackgroundJobDefinitionException(beanName, method,
						"has the job name '" + name + "', which " + BackgroundJobDefinitionException.describe(existing.method)
								+ " on bean '" + existing.beanName + "' already uses",
						"Give one of them a unique name with @Background(name = \"...\").");
			}
			Method invocable = AopUtils.selectInvocableMethod(method, bean.getClass());
			this.definitions.put(name, new Definition(name, beanName, bean, invocable, annotation));
		});
		return bean;
	}

	@Override
	public void afterSingletonsInstantiated() {
		if (this.beanFactory == null) {
			return;
		}
		// Lazy and prototype beans have not passed through postProcessAfterInitialization.
		for (String beanName : this.beanFactory.getBeanDefinitionNames()) {
			BeanDefinition definition = this.beanFactory.getMergedBeanDefinition(beanName);
			if (definition.isAbstract() || (definition.isSingleton() && !definition.isLazyInit())) {
				continue;
			}
			Class<?> type = this.beanFactory.getType(beanName, false);
			if (type != null) {
				findBackgroundMethods(type).keySet().forEach((method) -> validate(beanName, definition, method));
			}
		}
	}

	@Override
	public void onApplicationEvent(ApplicationReadyEvent event) {
		if (event.getApplicationContext() != this.context || !this.started.compareAndSet(false, true)) {
			return;
		}
		// A SIGTERM during startup can close the context, or run the whole shutdown
		// sequence, before the ready event comes: then there is nothing to start, and the
		// providers must not create fresh beans in a closed context.
		if (this.context instanceof ConfigurableApplicationContext configurable && !configurable.isActive()) {
			return;
		}
		if (!this.startJobs) {
			if (!this.definitions.isEmpty()) {
				logger.warn("graceful-shutdown.enabled=false: not starting @Background jobs "
						+ this.definitions.keySet() + "; set it to true (the default) to run them");
			}
			return;
		}
		ShutdownToken token = this.token.getObject();
		JobRegistry registry = this.registry.getObject();
		if (token.isShutdownRequested()) {
			logger.info("Not starting " + this.definitions.size() + " background jobs: shutdown has begun");
			return;
		}
		boolean virtual = Threading.VIRTUAL.isActive(this.context.getEnvironment());
		ThreadFactory threads = virtual ? new VirtualThreadTaskExecutor().getVirtualThreadFactory() : Thread::new;
		ObservationRegistry observations = this.observations.getIfAvailable(() -> ObservationRegistry.NOOP);
		IntConsumer shutdown = (status) -> System.exit(SpringApplication.exit(this.context,
				() -> status));
		CountDownLatch begun = new CountDownLatch(this.definitions.size());
		CountDownLatch ended = new CountDownLatch(this.definitions.size());
		for (Definition definition : this.definitions.values()) {
			BackgroundJob job = new BackgroundJob(definition.name, definition.bean, definition.method,
					definition.annotation.onFailure(), token, registry, this.backoff, shutdown, begun, ended,
					observations);
			Thread thread = threads.newThread(job);
			thread.setName("background-" + definition.name);
			thread.start();
		}
		// Once ready, every job is in the registry: a shutdown from now on awaits them all.
		try {
			begun.await();
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
		if (!this.definitions.isEmpty() && virtual) {
			keepAliveUntil(ended);
		}
		if (!this.definitions.isEmpty()) {
			logger.info("Started " + this.definitions.size() + " background job" + ((this.definitions.size() == 1) ? "" : "s")
					+ ": " + this.definitions.keySet());
		}
	}

	/**
	 * Platform job threads are not daemons, so a worker without a web server stays up
	 * while its jobs run. Virtual threads are always daemons: one platform thread stands
	 * in for them until the last job has ended.
	 */
	private static void keepAliveUntil(CountDownLatch ended) {
		Thread keepAlive = new Thread(() -> {
			try {
				ended.await();
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
			}
		}, "background-keep-alive");
		keepAlive.setDaemon(false);
		keepAlive.start();
	}

	private BeanDefinition mergedDefinition(String beanName) {
		if (this.beanFactory != null && this.beanFactory.containsBeanDefinition(beanName)) {
			return this.beanFactory.getMergedBeanDefinition(beanName);
		}
		return null;
	}

	private static Map<Method, Background> findBackgroundMethods(Class<?> type) {
		if (!AnnotationUtils.isCandidateClass(type, Background.class)) {
			return Map.of();
		}
		return MethodIntrospector.selectMethods(type, (MethodIntrospector.MetadataLookup<Background>) (
				method) -> AnnotatedElementUtils.findMergedAnnotation(method, Background.class));
	}

	private static void validate(String beanName, BeanDefinition definition, Method method) {
		if (method.getReturnType() != void.class) {
			throw new BackgroundJobDefinitionException(beanName, method,
					"returns " + method.getReturnType().getSimpleName() + ", and nothing would read it",
					ALLOWED_SIGNATURES);
		}
		Class<?>[] parameters = method.getParameterTypes();
		if (parameters.length > 1 || (parameters.length == 1 && parameters[0] != ShutdownToken.class)) {
			throw new BackgroundJobDefinitionException(beanName, method, "has parameters that cannot be supplied",
					ALLOWED_SIGNATURES);
		}
		if (Modifier.isStatic(method.getModifiers())) {
			throw new BackgroundJobDefinitionException(beanName, method, "is static", ALLOWED_SIGNATURES);
		}
		if (Modifier.isPrivate(method.getModifiers())) {
			throw new BackgroundJobDefinitionException(beanName, method, "is private", ALLOWED_SIGNATURES);
		}
		if (definition != null && !definition.isSingleton()) {
			throw new BackgroundJobDefinitionException(beanName, method,
					"is on a bean of scope '" + definition.getScope()
							+ "', which would start it once per instance or never",
					ALLOWED_SIGNATURES);
		}
		if (definition != null && definition.isLazyInit()) {
			throw new BackgroundJobDefinitionException(beanName, method,
					"is on a lazy bean, which might never be created and its job never started", ALLOWED_SIGNATURES);
		}
	}

	private record Definition(String name, String beanName, Object bean, Method method, Background annotation) {
	}

}
