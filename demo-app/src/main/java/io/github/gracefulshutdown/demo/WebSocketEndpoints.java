package io.github.gracefulshutdown.demo;

import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Profile;
import org.springframework.messaging.simp.config.MessageBrokerRegistry;
import org.springframework.web.socket.CloseStatus;
import org.springframework.web.socket.TextMessage;
import org.springframework.web.socket.WebSocketSession;
import org.springframework.web.socket.config.annotation.EnableWebSocket;
import org.springframework.web.socket.config.annotation.EnableWebSocketMessageBroker;
import org.springframework.web.socket.config.annotation.StompEndpointRegistry;
import org.springframework.web.socket.config.annotation.WebSocketConfigurer;
import org.springframework.web.socket.config.annotation.WebSocketHandlerRegistry;
import org.springframework.web.socket.config.annotation.WebSocketMessageBrokerConfigurer;
import org.springframework.web.socket.handler.TextWebSocketHandler;

/**
 * WebSocket sessions that never end on their own: a raw {@code WebSocketHandler} that
 * echoes at {@code /ws}, and STOMP over WebSocket at {@code /stomp} with a simple broker.
 * Each raw session is a journal unit from its opening to its close.
 */
@Configuration(proxyBeanMethods = false)
@Profile("websocket")
@EnableWebSocket
@EnableWebSocketMessageBroker
class WebSocketEndpoints implements WebSocketConfigurer, WebSocketMessageBrokerConfigurer {

	private final Journal journal;

	WebSocketEndpoints(Journal journal) {
		this.journal = journal;
	}

	@Override
	public void registerWebSocketHandlers(WebSocketHandlerRegistry registry) {
		registry.addHandler(new Echo(this.journal), "/ws");
	}

	@Override
	public void registerStompEndpoints(StompEndpointRegistry registry) {
		registry.addEndpoint("/stomp");
	}

	@Override
	public void configureMessageBroker(MessageBrokerRegistry registry) {
		registry.enableSimpleBroker("/topic");
	}

	static final class Echo extends TextWebSocketHandler {

		private final Journal journal;

		Echo(Journal journal) {
			this.journal = journal;
		}

		@Override
		public void afterConnectionEstablished(WebSocketSession session) {
			this.journal.start("websocket", session.getId());
		}

		@Override
		protected void handleTextMessage(WebSocketSession session, TextMessage message) throws Exception {
			session.sendMessage(message);
		}

		@Override
		public void afterConnectionClosed(WebSocketSession session, CloseStatus status) {
			this.journal.end("websocket", session.getId());
		}

	}

}
