package io.github.gracefulshutdown.jms;

import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownJmsAutoConfiguration;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import org.junit.jupiter.api.Test;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.jms.listener.DefaultMessageListenerContainer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * When the JMS participant is configured: with Spring JMS on the classpath and graceful
 * shutdown on, unless the application has its own.
 */
class JmsParticipantAutoConfigurationTests {

	private final ApplicationContextRunner runner = new ApplicationContextRunner()
		.withConfiguration(AutoConfigurations.of(LifecycleAutoConfiguration.class,
				GracefulShutdownAutoConfiguration.class, GracefulShutdownJmsAutoConfiguration.class));

	@Test
	void listenerContainersAreAParticipantThatStopsReceivingAsTheShutdownStarts() {
		this.runner.run((context) -> {
			assertThat(context).hasSingleBean(JmsListenerContainers.class).hasSingleBean(JmsListenerTracking.class);
			JmsListenerContainers containers = context.getBean(JmsListenerContainers.class);
			assertThat(context.getBean(ShutdownCoordinator.class).participants()).contains(containers);
			assertThat(containers.name()).isEqualTo("message");
			assertThat(containers.drainsAtShutdownStart()).as("no container yet").isFalse();
			assertThat(containers.inFlightCount()).as("no container yet").isEmpty();
			DefaultMessageListenerContainer container = new DefaultMessageListenerContainer();
			container.setDestinationName("orders");
			container.setMessageListener((jakarta.jms.MessageListener) (message) -> {
			});
			containers.track(container, "orders");
			assertThat(containers.drainsAtShutdownStart()).isTrue();
			assertThat(containers.inFlightCount()).hasValue(0);
		});
	}

	@Test
	void listenerContainersCanStopReceivingAfterTheDrainDelayInstead() {
		this.runner.withPropertyValues("graceful-shutdown.stop-consuming=after-drain-delay")
			.run((context) -> assertThat(context.getBean(JmsListenerContainers.class).drainsAtShutdownStart())
				.isFalse());
	}

	@Test
	void backsOffWithoutSpringJms() {
		this.runner.withClassLoader(new FilteredClassLoader(DefaultMessageListenerContainer.class))
			.run((context) -> assertThat(context).hasSingleBean(ShutdownCoordinator.class)
				.doesNotHaveBean(JmsListenerContainers.class)
				.doesNotHaveBean(JmsListenerTracking.class));
	}

	@Test
	void backsOffWithoutTheJmsApi() {
		this.runner.withClassLoader(new FilteredClassLoader("jakarta.jms"))
			.run((context) -> assertThat(context).hasSingleBean(ShutdownCoordinator.class)
				.doesNotHaveBean(JmsListenerContainers.class));
	}

	@Test
	void backsOffWhenGracefulShutdownIsDisabled() {
		this.runner.withPropertyValues("graceful-shutdown.enabled=false")
			.run((context) -> assertThat(context).doesNotHaveBean(JmsListenerContainers.class)
				.doesNotHaveBean(JmsListenerTracking.class));
	}

	@Test
	void anApplicationsOwnParticipantIsKept() {
		JmsListenerContainers own = new JmsListenerContainers(false);
		this.runner.withBean("ownContainers", JmsListenerContainers.class, () -> own).run((context) -> {
			assertThat(context).hasSingleBean(JmsListenerContainers.class);
			assertThat(context.getBean(JmsListenerContainers.class)).isSameAs(own);
			assertThat(context.getBean(ShutdownCoordinator.class).participants()).contains(own);
		});
	}

}
