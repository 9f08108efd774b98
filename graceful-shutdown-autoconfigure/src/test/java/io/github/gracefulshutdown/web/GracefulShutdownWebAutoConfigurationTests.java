package io.github.gracefulshutdown.web;

import io.github.gracefulshutdown.ShutdownCoordinator;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownWebAutoConfiguration;
import org.junit.jupiter.api.Test;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.Shutdown;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.core.Ordered;

import static org.assertj.core.api.Assertions.assertThat;

class GracefulShutdownWebAutoConfigurationTests {

	private static final AutoConfigurations CONFIGURATIONS = AutoConfigurations.of(LifecycleAutoConfiguration.class,
			GracefulShutdownAutoConfiguration.class, GracefulShutdownWebAutoConfiguration.class);

	@Test
	void aServletApplicationCountsRequestsAndDrainsItsServer() {
		new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS).run((context) -> {
			assertThat(context).hasSingleBean(WebServerDrain.class)
				.hasSingleBean(InFlightRequests.class)
				.hasSingleBean(ShutdownCoordinator.class);
			FilterRegistrationBean<?> registration = context.getBean(FilterRegistrationBean.class);
			assertThat(registration.getFilter()).isSameAs(context.getBean(InFlightRequests.class));
			assertThat(registration.getOrder()).isEqualTo(Ordered.HIGHEST_PRECEDENCE);
			assertThat(registration.isAsyncSupported()).isTrue();
			assertThat(registration.determineDispatcherTypes()).containsExactly(jakarta.servlet.DispatcherType.REQUEST);
		});
	}

	@Test
	@SuppressWarnings("unchecked")
	void springBootsOwnTomcatDrainIsMadeImmediateSoItNeverRunsTwice() {
		new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.withPropertyValues("server.shutdown=graceful")
			.run((context) -> {
				TomcatServletWebServerFactory factory = new TomcatServletWebServerFactory();
				context.getBeansOfType(WebServerFactoryCustomizer.class)
					.values()
					.forEach((customizer) -> customizer.customize(factory));
				assertThat(factory.getShutdown()).isEqualTo(Shutdown.IMMEDIATE);
			});
	}

	@Test
	void aServiceWithoutAWebServerHasNoWebParticipant() {
		new ApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.run((context) -> assertThat(context).hasSingleBean(ShutdownCoordinator.class)
				.doesNotHaveBean(WebServerDrain.class)
				.doesNotHaveBean(InFlightRequests.class));
	}

	@Test
	void disabledConfiguresNoWebParticipant() {
		new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.withPropertyValues("graceful-shutdown.enabled=false")
			.run((context) -> assertThat(context).doesNotHaveBean(WebServerDrain.class)
				.doesNotHaveBean(InFlightRequests.class)
				.doesNotHaveBean(FilterRegistrationBean.class));
	}

}
