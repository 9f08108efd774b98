package testsuiteapp;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.client.RestClient;

import static org.assertj.core.api.Assertions.assertThat;

/** The application on a real Tomcat, over real HTTP. */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
class HttpApiTests {

	@LocalServerPort
	private int port;

	private RestClient client;

	@BeforeEach
	void client() {
		this.client = RestClient.create("http://127.0.0.1:" + this.port);
	}

	@Test
	void greetsOverHttp() {
		ResponseEntity<Greeting> response = this.client.get().uri("/greetings/Grace").retrieve().toEntity(Greeting.class);
		assertThat(response.getStatusCode()).isEqualTo(HttpStatus.OK);
		assertThat(response.getBody()).isNotNull();
		assertThat(response.getBody().message()).isEqualTo("Hello, Grace");
		assertThat(response.getBody().number()).isPositive();
	}

	@Test
	void isReadyForTraffic() {
		ResponseEntity<String> response = this.client.get().uri("/actuator/health/readiness").retrieve().toEntity(String.class);
		assertThat(response.getStatusCode()).isEqualTo(HttpStatus.OK);
		assertThat(response.getBody()).contains("\"status\":\"UP\"");
	}

}
