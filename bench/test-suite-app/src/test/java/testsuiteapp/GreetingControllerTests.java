package testsuiteapp;

import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.webmvc.test.autoconfigure.AutoConfigureMockMvc;
import org.springframework.test.web.servlet.MockMvc;

import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

/** The controller and actuator in a mock servlet environment (no server). */
@SpringBootTest
@AutoConfigureMockMvc
class GreetingControllerTests {

	@Autowired
	private MockMvc mvc;

	@Test
	void greetsByName() throws Exception {
		this.mvc.perform(get("/greetings/Ada"))
			.andExpect(status().isOk())
			.andExpect(jsonPath("$.message").value("Hello, Ada"))
			.andExpect(jsonPath("$.number").isNumber());
	}

	@Test
	void refusesABlankName() throws Exception {
		this.mvc.perform(get("/greetings/{name}", " "))
			.andExpect(status().isBadRequest())
			.andExpect(content().string("name must not be blank"));
	}

	@Test
	void healthIsUp() throws Exception {
		this.mvc.perform(get("/actuator/health")).andExpect(status().isOk()).andExpect(jsonPath("$.status").value("UP"));
	}

}
