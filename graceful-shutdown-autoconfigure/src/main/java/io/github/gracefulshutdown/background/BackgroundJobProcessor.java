package io.github.gracefulshutdown.background;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;
import java.util.function.Supplier;

import io.github.gracefulshutdown.Background;
import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import io.micrometer.observation.ObservationRegistry;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

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

	private static final String SPRING_PACKAGE = "org.springframework.";

	private static final String ALLOWED_SIGNATURES = "Declare it as 'void m()' or 'void m(ShutdownToken token)', "
			+ "neither static nor private, on an eagerly created singleton bean.";

	private final ObjectProvider<ShutdownToken> token;

	private final ObjectProvider<DefaultJobRegistry> registry;

	private final ObjectProvider<ObservationRegistry> observations;

	private final Supplier<@Nullable Backoff> backoff;

	private final Map<String, Definition> definitions = new LinkedHashMap<>();

	// Classes already scanned and found without @Background, as Spring's own
	// annotation post-processors keep: most beans share a handful of classes.
	private final Set<Class<?>> nonAnnotatedClasses = ConcurrentHashMap.newKeySet();

	private final AtomicBoolean started = new AtomicBoolean();

	private @Nullable ConfigurableListableBeanFactory beanFactory;

	private @Nullable ApplicationContext context;

	/**
	 * Creates a processor. It is a post-processor, created before any properties bean:
	 * the backoff is asked for only when the jobs start.
	 * @param token the token the jobs watch
	 * @param registry the registry the jobs are tracked in
	 * @param observations where each run of a job is observed, if anywhere
	 * @param backoff the restart backoff, or {@code null} when graceful shutdown is
	 * disabled: then the methods are still validated, but none is started, which is
	 * logged once the application is ready, naming each
	 */
	public BackgroundJobProcessor(ObjectProvider<ShutdownToken> token, ObjectProvider<DefaultJobRegistry> registry,
			ObjectProvider<ObservationRegistry> observations, Supplier<@Nullable Backoff> backoff) {
		this.token = token;
		this.registry = registry;
		this.observations = observations;
		this.backoff = backoff;
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
		if (this.nonAnnotatedClasses.contains(type)) {
			return bean;
		}
		Map<Method, Background> methods = findBackgroundMethods(type);
		if (methods.isEmpty()) {
			this.nonAnnotatedClasses.add(type);
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
			this.definitions.put(name, new Definition(name, beanName, bean, invocable(bean, beanName, method), annotation));
		});
		return bean;
	}

	/**
	 * The method to call on the bean, which may be a proxy: a JDK proxy exposes only
	 * its interfaces' methods.
	 */
	private static Method invocable(Object bean, String beanName, Method method) {
		try {
			return AopUtils.selectInvocableMethod(method, bean.getClass());
		}
		catch (IllegalStateException ex) {
			throw new BackgroundJobDefinitionException(beanName, method,
					"is not declared on any interface of the JDK proxy that Spring made for the bean, so it cannot "
							+ "be called through the proxy",
					"Declare the method on one of the bean's interfaces, or let Spring proxy the class "
							+ "(spring.aop.proxy-target-class=true, the default, or proxyTargetClass = true on the "
							+ "@Enable... annotation that made the proxy).");
		}
	}

	@Override
	public void afterSingletonsInstantiated() {
		ConfigurableListableBeanFactory beanFactory = this.beanFactory;
		if (beanFactory == null) {
			return;
		}
		// Lazy and prototype beans have not passed through postProcessAfterInitialization.
		for (String beanName : beanFactory.getBeanDefinitionNames()) {
			BeanDefinition definition = beanFactory.getMergedBeanDefinition(beanName);
			if (definition.isAbstract() || (definition.isSingleton() && !definition.isLazyInit())) {
				continue;
			}
			Class<?> type = beanFactory.getType(beanName, false);
			if (type != null) {
				findBackgroundMethods(type).keySet().forEach((method) -> validate(beanName, definition, method));
			}
		}
	}

	@Override
	public void onApplicationEvent(ApplicationReadyEvent event) {
		ApplicationContext context = this.context;
		if (context == null || event.getApplicationContext() != context || !this.started.compareAndSet(false, true)) {
			return;
		}
		// A SIGTERM during startup can close the context, or run the whole shutdown
		// sequence, before the ready event comes: then there is nothing to start, and the
		// providers must not create fresh beans in a closed context.
		if (context instanceof ConfigurableApplicationContext configurable && !configurable.isActive()) {
			return;
		}
		Backoff backoff = this.backoff.get();
		if (backoff == null) {
			if (!this.definitions.isEmpty()) {
				logger.warn("graceful-shutdown.enabled=false: not starting @Background jobs "
						+ this.definitions.keySet() + "; set it to true (the default) to run them");
			}
			return;
		}
		ShutdownToken token = this.token.getObject();
		DefaultJobRegistry registry = this.registry.getObject();
		if (token.isShutdownRequested()) {
			logger.info("Not starting " + this.definitions.size() + " background jobs: shutdown has begun");
			return;
		}
		boolean virtual = Threading.VIRTUAL.isActive(context.getEnvironment());
		ThreadFactory threads = virtual ? new VirtualThreadTaskExecutor().getVirtualThreadFactory() : Thread::new;
		ObservationRegistry observations = this.observations.getIfAvailable(() -> ObservationRegistry.NOOP);
		IntConsumer shutdown = (status) -> System.exit(SpringApplication.exit(context, () -> status));
		CountDownLatch begun = new CountDownLatch(this.definitions.size());
		CountDownLatch ended = new CountDownLatch(this.definitions.size());
		for (Definition definition : this.definitions.values()) {
			BackgroundJob job = new BackgroundJob(definition.name, definition.bean, definition.method,
					definition.annotation.onFailure(), token, registry, backoff, shutdown, begun, ended,
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

	private @Nullable BeanDefinition mergedDefinition(String beanName) {
		if (this.beanFactory != null && this.beanFactory.containsBeanDefinition(beanName)) {
			return this.beanFactory.getMergedBeanDefinition(beanName);
		}
		return null;
	}

	private static Map<Method, Background> findBackgroundMethods(Class<?> type) {
		// Most of an application's beans are Spring's own, and none of them declares a
		// @Background method: walking their methods is most of the scan's startup cost.
		if (type.getName().startsWith(SPRING_PACKAGE) || !AnnotationUtils.isCandidateClass(type, Background.class)) {
			return Map.of();
		}
		return MethodIntrospector.selectMethods(type, (MethodIntrospector.MetadataLookup<Background>) (
				method) -> AnnotatedElementUtils.findMergedAnnotation(method, Background.class));
	}

	private static void validate(String beanName, @Nullable BeanDefinition definition, Method method) {
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

	/**
	 * Capped exponential backoff: {@code initial * 2^(failures - 1)}, at most {@code max}.
	 *
	 * @param initial the delay before the first restart
	 * @param max the longest delay
	 */
	public record Backoff(Duration initial, Duration max) {

		Duration delay(int failures) {
			int shift = Math.min(failures - 1, 30);
			long millis = this.initial.toMillis() << shift;
			return (millis <= 0 || millis > this.max.toMillis()) ? this.max : Duration.ofMillis(millis);
		}

	}


}
