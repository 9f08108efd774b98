package io.github.gracefulshutdown.web;

import io.github.gracefulshutdown.autoconfigure.GracefulShutdownAutoConfiguration;
import io.github.gracefulshutdown.autoconfigure.GracefulShutdownWebAutoConfiguration;
import io.github.gracefulshutdown.core.ShutdownCoordinator;
import org.apache.tomcat.websocket.WsWebSocketContainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Mono;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.tomcat.reactive.TomcatReactiveWebServerFactory;
import org.springframework.boot.web.server.Shutdown;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.boot.webflux.autoconfigure.WebHttpHandlerBuilderCustomizer;
import org.springframework.context.support.StaticApplicationContext;
import org.springframework.core.Ordered;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;
import org.springframework.web.reactive.socket.server.WebSocketService;
import org.springframework.web.reactive.socket.server.support.WebSocketHandlerAdapter;
import org.springframework.web.server.adapter.WebHttpHandlerBuilder;

import static org.assertj.core.api.Assertions.assertThat;

@ExtendWith(OutputCaptureExtension.class)
class GracefulShutdownWebAutoConfigurationTests {

	private static final AutoConfigurations CONFIGURATIONS = AutoConfigurations.of(LifecycleAutoConfiguration.class,
			GracefulShutdownAutoConfiguration.class, GracefulShutdownWebAutoConfiguration.class);

	@Test
	void aServletApplicationCountsRequestsAndDrainsItsServer() {
		new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS).run((context) -> {
			assertThat(context).hasSingleBean(InFlightRequests.class)
				.doesNotHaveBean(ReactiveInFlightRequests.class)
				.hasSingleBean(ShutdownCoordinator.class);
			assertThat(context.getBean(ShutdownCoordinator.class).participants())
				.contains(context.getBean(InFlightRequests.class));
			FilterRegistrationBean<?> registration = context.getBean(FilterRegistrationBean.class);
			assertThat(registration.getFilter()).isSameAs(context.getBean(InFlightRequests.class));
			assertThat(registration.getOrder()).isEqualTo(Ordered.HIGHEST_PRECEDENCE);
			assertThat(registration.isAsyncSupported()).isTrue();
			assertThat(registration.determineDispatcherTypes()).containsExactly(jakarta.servlet.DispatcherType.REQUEST);
		});
	}

	@Test
	void aServletApplicationEndsItsStreamsAndWebSocketSessionsAsDrainingStarts() {
		new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS).run((context) -> {
			assertThat(context).hasSingleBean(ResponseStreams.class).hasSingleBean(TomcatWebSocketSessions.class);
			assertThat(context.getBean(ShutdownCoordinator.class).participants())
				.contains(context.getBean(ResponseStreams.class), context.getBean(TomcatWebSocketSessions.class));
		});
	}

	@Test
	void withoutSpringMvcOrTomcatWebSocketThoseParticipantsBackOff() {
		new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.withClassLoader(new FilteredClassLoader(WebMvcConfigurer.class, WsWebSocketContainer.class))
			.run((context) -> assertThat(context).hasSingleBean(InFlightRequests.class)
				.doesNotHaveBean(ResponseStreams.class)
				.doesNotHaveBean(TomcatWebSocketSessions.class));
	}

	@Test
	void aUsersOwnStreamParticipantReplacesOurs() {
		ResponseStreams own = new ResponseStreams();
		new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.withBean(ResponseStreams.class, () -> own)
			.run((context) -> assertThat(context.getBean(ResponseStreams.class)).isSameAs(own));
	}

	@Test
	void tomcatsDefaultProtocolBecomesOursAndAUsersOwnIsKeptAndSaidSo(CapturedOutput output) {
		new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS).run((context) -> {
			@SuppressWarnings("unchecked")
			WebServerFactoryCustomizer<TomcatServletWebServerFactory> customizer = context
				.getBean("tomcatDrainOwnershipCustomizer", WebServerFactoryCustomizer.class);
			TomcatServletWebServerFactory factory = new TomcatServletWebServerFactory();
			customizer.customize(factory);
			assertThat(factory.getProtocol()).isEqualTo(GracefulHttp11NioProtocol.class.getName());
			assertThat(factory.getShutdown()).isEqualTo(Shutdown.IMMEDIATE);
			TomcatServletWebServerFactory nio2 = new TomcatServletWebServerFactory();
			nio2.setProtocol("org.apache.coyote.http11.Http11Nio2Protocol");
			customizer.customize(nio2);
			assertThat(nio2.getProtocol()).isEqualTo("org.apache.coyote.http11.Http11Nio2Protocol");
		});
		assertThat(output).containsOnlyOnce("Tomcat protocol org.apache.coyote.http11.Http11Nio2Protocol is kept: "
				+ "a response already being written when the drain starts gets no Connection: close");
	}

	@Test
	void aReactiveApplicationWithoutTheServletApiCountsItsRequestsAndDrainsItsServer() {
		// WebFlux on Reactor Netty has no servlet API: nothing may load a servlet class.
		new ReactiveWebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.withClassLoader(new FilteredClassLoader("jakarta.servlet"))
			.run((context) -> {
				assertThat(context).hasNotFailed()
					.hasSingleBean(ReactiveInFlightRequests.class)
					.hasSingleBean(WebSocketSessions.class)
					.hasSingleBean(WebHttpHandlerBuilderCustomizer.class)
					.doesNotHaveBean(InFlightRequests.class);
				assertThat(context.getBean(ShutdownCoordinator.class).participants())
					.containsSubsequence(context.getBean(ReactiveInFlightRequests.class),
							context.getBean(WebSocketSessions.class));
			});
	}

	@Test
	void theReactiveCounterDecoratesTheHandlerSpringBootBuilds() {
		ReactiveInFlightRequests requests = new ReactiveInFlightRequests(new StaticApplicationContext());
		new ReactiveWebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.withBean(ReactiveInFlightRequests.class, () -> requests)
			.run((context) -> {
				assertThat(context).getBean(ReactiveInFlightRequests.class).isSameAs(requests);
				assertThat(requests.inFlightCount()).as("nothing decorated yet").isEmpty();
				WebHttpHandlerBuilder builder = WebHttpHandlerBuilder.webHandler((exchange) -> Mono.empty());
				context.getBean(WebHttpHandlerBuilderCustomizer.class).customize(builder);
				assertThat(builder.hasHttpHandlerDecorator()).isTrue();
				builder.build();
				assertThat(requests.inFlightCount()).hasValue(0);
			});
	}

	@Test
	void springsWebSocketHandlerAdapterIsGivenATrackingService() {
		WebSocketService original = (exchange, handler) -> Mono.empty();
		new ReactiveWebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.withBean("webFluxWebSocketHandlerAdapter", WebSocketHandlerAdapter.class, () -> {
				WebSocketHandlerAdapter adapter = new WebSocketHandlerAdapter(original);
				adapter.setOrder(7);
				return adapter;
			})
			.run((context) -> {
				WebSocketHandlerAdapter adapter = context.getBean(WebSocketHandlerAdapter.class);
				assertThat(adapter.getWebSocketService()).isNotSameAs(original);
				assertThat(adapter.getOrder()).isEqualTo(7);
			});
	}

	@Test
	void reactiveTomcatIsDrainedByUsNotBySpringBoot() {
		new ReactiveWebApplicationContextRunner().withConfiguration(CONFIGURATIONS).run((context) -> {
			TomcatReactiveWebServerFactory factory = new TomcatReactiveWebServerFactory();
			factory.setShutdown(Shutdown.GRACEFUL);
			context.getBeanProvider(WebServerFactoryCustomizer.class)
				.orderedStream()
				.forEach((customizer) -> customizer.customize(factory));
			assertThat(factory.getShutdown()).isEqualTo(Shutdown.IMMEDIATE);
		});
	}

	@Test
	void anExplicitImmediateShutdownIsSaidToBeOverriddenOnceAtStartup(CapturedOutput output) {
		new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.withPropertyValues("server.shutdown=immediate")
			.run((context) -> assertThat(context).hasNotFailed());
		assertThat(output).containsOnlyOnce("server.shutdown=immediate is overridden: graceful-shutdown drains Tomcat "
				+ "itself, within spring.lifecycle.timeout-per-shutdown-phase; set graceful-shutdown.enabled=false to "
				+ "shut down immediately");
	}

	@Test
	void theDefaultShutdownSaysNothing(CapturedOutput output) {
		new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.run((context) -> assertThat(context).hasNotFailed());
		assertThat(output).doesNotContain("server.shutdown=immediate");
	}

	@Test
	void aServiceWithoutAWebServerHasNoWebParticipant() {
		new ApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.run((context) -> assertThat(context).hasSingleBean(ShutdownCoordinator.class)
				.doesNotHaveBean(ReactiveInFlightRequests.class)
				.doesNotHaveBean(InFlightRequests.class));
	}

	@Test
	void disabledConfiguresNoWebParticipant() {
		new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.withPropertyValues("graceful-shutdown.enabled=false")
			.run((context) -> assertThat(context).doesNotHaveBean(ReactiveInFlightRequests.class)
				.doesNotHaveBean(InFlightRequests.class)
				.doesNotHaveBean(ResponseStreams.class)
				.doesNotHaveBean(TomcatWebSocketSessions.class)
				.doesNotHaveBean(FilterRegistrationBean.class));
		new ReactiveWebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
			.withPropertyValues("graceful-shutdown.enabled=false")
			.run((context) -> assertThat(context).doesNotHaveBean(ReactiveInFlightRequests.class)
				.doesNotHaveBean(WebSocketSessions.class)
				.doesNotHaveBean(WebHttpHandlerBuilderCustomizer.class));
	}

}
