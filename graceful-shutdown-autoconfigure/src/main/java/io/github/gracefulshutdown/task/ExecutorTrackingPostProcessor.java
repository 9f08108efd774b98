package io.github.gracefulshutdown.task;

import java.lang.reflect.Field;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;

import io.github.gracefulshutdown.ShutdownToken;
import io.github.gracefulshutdown.core.DefaultJobRegistry;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.beans.BeansException;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.BeanFactoryAware;
import org.springframework.beans.factory.FactoryBean;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.core.ResolvableType;
import org.springframework.core.task.SimpleAsyncTaskExecutor;
import org.springframework.core.task.SyncTaskExecutor;
import org.springframework.core.task.TaskDecorator;
import org.springframework.scheduling.TaskScheduler;
import org.springframework.scheduling.concurrent.ExecutorConfigurationSupport;
import org.springframework.scheduling.concurrent.SimpleAsyncTaskScheduler;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.util.ReflectionUtils;
import org.springframework.util.function.SingletonSupplier;

/**
 * Makes every executor and scheduler bean of the context track its tasks as jobs,
 * whoever built it, so that shutdown awaits them inside its one deadline:
 * <ul>
 * <li>{@link ThreadPoolTaskExecutor} and {@link SimpleAsyncTaskExecutor}: every task an
 * {@code ASYNC} job from submission ({@link AsyncTaskTracking});</li>
 * <li>{@link ThreadPoolTaskScheduler} and {@link SimpleAsyncTaskScheduler}: the same for
 * a task to run now, and each run of a delayed or periodic task a {@code SCHEDULED} job
 * ({@link SchedulerTaskTracking});</li>
 * <li>a plain {@link ExecutorService}: wrapped ({@link TrackedExecutorService}), but only
 * when the bean is declared as an interface that the wrapper implements, so that nothing
 * that injects it breaks.</li>
 * </ul>
 * The decorator of a Spring executor is set before {@code afterPropertiesSet()} builds its
 * pool, and wraps the decorator the bean has, which Spring offers no getter for: it is
 * read from the field. An executor that Spring Boot's builder made has ours already and is
 * left as it is. A {@code ThreadPoolTaskExecutor} or {@code ThreadPoolTaskScheduler} also
 * keeps accepting tasks after the context starts to close, as Spring Boot's own does with
 * the starter: work handed off by a request that is still draining is tracked and awaited
 * rather than rejected.
 * <p>
 * Nothing that cannot be tracked passes silently: one warning at startup names each
 * executor or scheduler bean left untracked, and says what to do.
 * <p>
 * It is a post-processor, created before most beans: the registry and the token are asked
 * for only when the first task is submitted.
 */
public final class ExecutorTrackingPostProcessor implements BeanPostProcessor, BeanFactoryAware,
		SmartInitializingSingleton {

	private static final Log logger = LogFactory.getLog(ExecutorTrackingPostProcessor.class);

	private static final String DECORATOR_FIELD = "taskDecorator";

	private final Supplier<DefaultJobRegistry> registry;

	private final Supplier<ShutdownToken> token;

	private final String decoratorField;

	// The executor beans seen, until startup ends: any other executor singleton then was
	// created before this post-processor, or registered as an object, and is reported.
	private volatile @Nullable Set<String> seen = ConcurrentHashMap.newKeySet();

	private @Nullable ConfigurableListableBeanFactory beanFactory;

	/**
	 * Creates the post-processor.
	 * @param registry where tasks are tracked
	 * @param token tells schedulers when to stop starting runs
	 */
	public ExecutorTrackingPostProcessor(ObjectProvider<DefaultJobRegistry> registry,
			ObjectProvider<ShutdownToken> token) {
		this(registry, token, DECORATOR_FIELD);
	}

	ExecutorTrackingPostProcessor(ObjectProvider<DefaultJobRegistry> registry, ObjectProvider<ShutdownToken> token,
			String decoratorField) {
		this.registry = SingletonSupplier.of(registry::getObject);
		this.token = SingletonSupplier.of(token::getObject);
		this.decoratorField = decoratorField;
	}

	@Override
	public void setBeanFactory(BeanFactory beanFactory) {
		if (beanFactory instanceof ConfigurableListableBeanFactory listable) {
			this.beanFactory = listable;
		}
	}

	@Override
	public Object postProcessBeforeInitialization(Object bean, String beanName) throws BeansException {
		if (bean instanceof ThreadPoolTaskExecutor executor) {
			TaskDecorator tracking = tracking(executor, beanName);
			if (tracking != null) {
				executor.setTaskDecorator(tracking);
				executor.setAcceptTasksAfterContextClose(true);
			}
		}
		else if (bean instanceof ThreadPoolTaskScheduler scheduler) {
			TaskDecorator tracking = tracking(scheduler, beanName);
			if (tracking != null) {
				scheduler.setTaskDecorator(tracking);
				scheduler.setAcceptTasksAfterContextClose(true);
			}
		}
		else if (bean instanceof SimpleAsyncTaskExecutor executor) {
			// SimpleAsyncTaskScheduler too. Both accept tasks until they are closed, when
			// their bean is destroyed.
			TaskDecorator tracking = tracking(executor, beanName);
			if (tracking != null) {
				executor.setTaskDecorator(tracking);
			}
		}
		return bean;
	}

	@Override
	public Object postProcessAfterInitialization(Object bean, String beanName) throws BeansException {
		if (!(bean instanceof Executor) && !(bean instanceof TaskScheduler)) {
			return bean;
		}
		Set<String> seen = this.seen;
		if (seen != null) {
			seen.add(beanName);
		}
		if (isHandled(bean) || bean instanceof SyncTaskExecutor) {
			// Decorated before initialization (or reported then); a SyncTaskExecutor runs
			// each task on the caller's thread, inside the caller's own work.
			return bean;
		}
		if (bean instanceof ExecutorService executor) {
			return wrap(executor, beanName);
		}
		warnNotTracked(beanName, bean, "It is none of the executors the starter can track",
				"Use Spring's ThreadPoolTaskExecutor, ThreadPoolTaskScheduler, SimpleAsyncTaskExecutor or "
						+ "SimpleAsyncTaskScheduler, an ExecutorService bean declared as ExecutorService, or track "
						+ "each task with JobRegistry.track(name, task).");
		return bean;
	}

	/**
	 * Reports the executor singletons that no post-processor call came for: created while
	 * post-processors were still being created (a dependency of one), or registered as
	 * ready-made objects.
	 */
	@Override
	public void afterSingletonsInstantiated() {
		Set<String> seen = this.seen;
		ConfigurableListableBeanFactory beanFactory = this.beanFactory;
		this.seen = null;
		if (seen == null || beanFactory == null) {
			return;
		}
		for (String name : beanFactory.getSingletonNames()) {
			Object singleton = beanFactory.getSingleton(name);
			if (!seen.contains(name) && (singleton instanceof Executor || singleton instanceof TaskScheduler)
					&& !(singleton instanceof SyncTaskExecutor) && !isTracked(singleton)) {
				warnNotTracked(name, singleton,
						"It was created before the starter's post-processor (as a dependency of a BeanPostProcessor"
								+ " or a BeanFactoryPostProcessor, say), or registered as a ready-made object",
						"Let the context create it as an ordinary bean, or track each task with "
								+ "JobRegistry.track(name, task).");
			}
		}
	}

	// ---- Spring's executors and schedulers -----------------------------------------

	private static boolean isHandled(Object bean) {
		return bean instanceof ThreadPoolTaskExecutor || bean instanceof ThreadPoolTaskScheduler
				|| bean instanceof SimpleAsyncTaskExecutor;
	}

	/**
	 * Returns our decorator for the executor, around the one it has.
	 * @return the decorator, or {@code null} if the executor cannot be tracked
	 */
	private @Nullable TaskDecorator tracking(Object executor, String beanName) {
		TaskDecorator existing;
		try {
			existing = decoratorOf(executor);
		}
		catch (RuntimeException ex) {
			// Setting ours would silently drop the user's.
			warnNotTracked(beanName, executor,
					"Its TaskDecorator could not be read (" + ex + "), and replacing it would drop yours",
					"Track each task with JobRegistry.track(name, task), and report this with your Spring Framework "
							+ "version.");
			return null;
		}
		if (existing instanceof AsyncTaskTracking ours) {
			// Made by Spring Boot's builder, with the starter's customizer.
			return ours.named(beanName);
		}
		if (existing instanceof SchedulerTaskTracking) {
			return existing;
		}
		return (executor instanceof TaskScheduler)
				? new SchedulerTaskTracking(executor, beanName, this.registry, this.token, existing)
				: new AsyncTaskTracking(this.registry, existing, beanName);
	}

	private @Nullable TaskDecorator decoratorOf(Object executor) {
		Field field = ReflectionUtils.findField(executor.getClass(), this.decoratorField, TaskDecorator.class);
		if (field == null) {
			throw new IllegalStateException(
					"no field '" + this.decoratorField + "' in " + executor.getClass().getName());
		}
		ReflectionUtils.makeAccessible(field);
		return (TaskDecorator) ReflectionUtils.getField(field, executor);
	}

	private boolean isTracked(Object executor) {
		if (executor instanceof TrackedExecutorService || isTrackedByRegistry(executor)) {
			return true;
		}
		if (!isHandled(executor)) {
			return false;
		}
		try {
			TaskDecorator decorator = decoratorOf(executor);
			return decorator instanceof AsyncTaskTracking || decorator instanceof SchedulerTaskTracking;
		}
		catch (RuntimeException ex) {
			return false;
		}
	}

	// ---- Plain ExecutorService beans -----------------------------------------------

	private Object wrap(ExecutorService executor, String beanName) {
		if (executor instanceof TrackedExecutorService || isTrackedByRegistry(executor)) {
			return executor;
		}
		Class<?> declared = declaredType(beanName);
		if (declared == null) {
			warnNotTracked(beanName, executor, "Its declared type is not known, so wrapping it could break injection",
					"Declare it as an ExecutorService bean, or use Spring's ThreadPoolTaskExecutor.");
			return executor;
		}
		if (!declared.isInterface() || !declared.isAssignableFrom(ExecutorService.class)) {
			boolean scheduled = ScheduledExecutorService.class.isAssignableFrom(declared);
			warnNotTracked(beanName, executor, "It is declared as " + declared.getName() + (scheduled
					? ", whose delayed and periodic tasks cannot be tracked per run"
					: ", and only an ExecutorService bean declared as ExecutorService can be wrapped without breaking"
							+ " what injects it"),
					scheduled ? "Use Spring's ThreadPoolTaskScheduler, or declare it as ExecutorService if it only "
							+ "runs tasks at once."
							: "Declare it as ExecutorService (the return type of its @Bean method), or use Spring's "
									+ "ThreadPoolTaskExecutor.");
			return executor;
		}
		acceptTasksAfterContextClose(beanName);
		return new TrackedExecutorService(beanName, executor, this.registry);
	}

	/**
	 * The type the bean is declared as: its {@code @Bean} method's return type, its class,
	 * or for a factory bean what it declares it makes. Once the bean exists, Spring
	 * matches injection points against the object itself, so the wrapper must be of every
	 * type the declaration promises.
	 */
	private @Nullable Class<?> declaredType(String beanName) {
		ConfigurableListableBeanFactory beanFactory = this.beanFactory;
		if (beanFactory == null || !beanFactory.containsBeanDefinition(beanName)) {
			return null;
		}
		ResolvableType type = beanFactory.getMergedBeanDefinition(beanName).getResolvableType();
		Class<?> resolved = type.resolve();
		if (resolved != null && FactoryBean.class.isAssignableFrom(resolved)) {
			return type.as(FactoryBean.class).getGeneric().resolve();
		}
		return resolved;
	}

	private void acceptTasksAfterContextClose(String beanName) {
		// Spring's ThreadPoolExecutorFactoryBean shuts its executor down early, when the
		// context starts to close, unless told otherwise.
		ConfigurableListableBeanFactory beanFactory = this.beanFactory;
		if (beanFactory != null && beanFactory.isFactoryBean(beanName)
				&& beanFactory.getBean(BeanFactory.FACTORY_BEAN_PREFIX + beanName) instanceof ExecutorConfigurationSupport factory) {
			factory.setAcceptTasksAfterContextClose(true);
		}
	}

	/**
	 * Whether the bean is the user's own {@code JobRegistry.track(name, executor)}, whose
	 * class is private to the registry.
	 */
	private static boolean isTrackedByRegistry(Object executor) {
		return executor.getClass().getEnclosingClass() == DefaultJobRegistry.class;
	}

	private static void warnNotTracked(String beanName, Object bean, String reason, String action) {
		logger.warn("Executor bean '" + beanName + "' (" + bean.getClass().getName() + ") is not tracked: graceful "
				+ "shutdown does not await its tasks. " + reason + ". " + action);
	}

}
