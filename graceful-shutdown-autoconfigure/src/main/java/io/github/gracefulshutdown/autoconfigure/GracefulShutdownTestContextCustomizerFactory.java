package io.github.gracefulshutdown.autoconfigure;

import java.util.List;

import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.test.context.ContextConfigurationAttributes;
import org.springframework.test.context.ContextCustomizer;
import org.springframework.test.context.ContextCustomizerFactory;
import org.springframework.test.context.MergedContextConfiguration;

/**
 * Marks every context that Spring's TestContext framework builds, so that its close skips
 * the drain delay: a test has no load balancer to wait for. Registered in
 * {@code META-INF/spring.factories} under a key only the TestContext framework reads, so
 * this class is loaded in tests alone.
 */
class GracefulShutdownTestContextCustomizerFactory implements ContextCustomizerFactory {

	static final String MARKER_BEAN = "io.github.gracefulshutdown.testContext";

	@Override
	public ContextCustomizer createContextCustomizer(Class<?> testClass,
			List<ContextConfigurationAttributes> configAttributes) {
		return new Customizer();
	}

	/**
	 * Registers the marker. One customizer equals every other, so that it never splits
	 * the test context cache.
	 */
	static final class Customizer implements ContextCustomizer {

		@Override
		public void customizeContext(ConfigurableApplicationContext context, MergedContextConfiguration mergedConfig) {
			context.getBeanFactory().registerSingleton(MARKER_BEAN, Boolean.TRUE);
		}

		@Override
		public boolean equals(Object other) {
			return other instanceof Customizer;
		}

		@Override
		public int hashCode() {
			return Customizer.class.hashCode();
		}

	}

}
