package io.github.gracefulshutdown.amqp;

import java.lang.reflect.Method;
import java.util.Objects;

import org.aopalliance.aop.Advice;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;

import org.springframework.amqp.rabbit.config.AbstractRabbitListenerContainerFactory;
import org.springframework.amqp.rabbit.listener.AbstractMessageListenerContainer;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.util.ReflectionUtils;

/**
 * Puts the {@link RabbitListenerDrain}'s delivery counter first in the advice chain of
 * every RabbitMQ listener container: through each container factory bean, for the
 * containers it makes for {@code @RabbitListener} endpoints, and into each container bean.
 * The user's own advice (Spring Boot's retry, for one) is kept, after ours, so that a
 * delivery counts once however many times it is retried.
 * <p>
 * Both are changed before they are initialized: a container builds its listener proxy
 * from the chain when it initializes. A factory's chain has a public getter; a
 * container's has only a protected one, which is called through reflection. Should it
 * ever be missing, a container bean is left as it is and named in a warning at startup.
 * <p>
 * It is a post-processor, created before most beans: the drain is asked for only when
 * the first factory or container is.
 */
public final class DeliveryCountingPostProcessor implements BeanPostProcessor {

	private static final Log logger = LogFactory.getLog(DeliveryCountingPostProcessor.class);

	private static final @Nullable Method GET_ADVICE_CHAIN = adviceChainGetter();

	private final ObjectProvider<RabbitListenerDrain> drain;

	/**
	 * Creates the post-processor.
	 * @param drain the participant whose counter is put in the chains
	 */
	public DeliveryCountingPostProcessor(ObjectProvider<RabbitListenerDrain> drain) {
		this.drain = Objects.requireNonNull(drain, "drain must not be null");
	}

	@Override
	public Object postProcessBeforeInitialization(Object bean, String beanName) {
		if (bean instanceof AbstractRabbitListenerContainerFactory<?> factory) {
			Advice[] chain = factory.getAdviceChain();
			if (!hasCounter(chain)) {
				factory.setAdviceChain(first(this.drain.getObject().deliveryCounter(null), chain));
			}
		}
		else if (bean instanceof AbstractMessageListenerContainer container) {
			if (GET_ADVICE_CHAIN == null) {
				logger.warn("Cannot read the advice chain of RabbitMQ listener container '" + beanName
						+ "': its deliveries are not counted at shutdown");
				return bean;
			}
			Advice[] chain = adviceChain(container);
			// A container a factory made in a bean method has the factory's counter.
			if (!hasCounter(chain)) {
				container.setAdviceChain(first(this.drain.getObject().deliveryCounter(container), chain));
			}
		}
		return bean;
	}

	/**
	 * Says whether the deliveries of a container are counted; {@code true} if that
	 * cannot be known, since the container bean then had a warning of its own.
	 */
	static boolean isCounted(AbstractMessageListenerContainer container) {
		return GET_ADVICE_CHAIN == null || hasCounter(adviceChain(container));
	}

	private static boolean hasCounter(Advice @Nullable [] chain) {
		if (chain != null) {
			for (Advice advice : chain) {
				if (advice instanceof RabbitListenerDrain.DeliveryCounter) {
					return true;
				}
			}
		}
		return false;
	}

	private static Advice[] first(Advice counter, Advice @Nullable [] chain) {
		if (chain == null || chain.length == 0) {
			return new Advice[] { counter };
		}
		Advice[] advices = new Advice[chain.length + 1];
		advices[0] = counter;
		System.arraycopy(chain, 0, advices, 1, chain.length);
		return advices;
	}

	private static Advice @Nullable [] adviceChain(AbstractMessageListenerContainer container) {
		return (Advice[]) ReflectionUtils.invokeMethod(Objects.requireNonNull(GET_ADVICE_CHAIN), container);
	}

	private static @Nullable Method adviceChainGetter() {
		Method getter = ReflectionUtils.findMethod(AbstractMessageListenerContainer.class, "getAdviceChain");
		if (getter == null || getter.getReturnType() != Advice[].class) {
			return null;
		}
		ReflectionUtils.makeAccessible(getter);
		return getter;
	}

}
