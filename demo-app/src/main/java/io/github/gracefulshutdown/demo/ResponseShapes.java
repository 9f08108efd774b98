package io.github.gracefulshutdown.demo;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.StreamingResponseBody;

/**
 * Slow responses of each shape a controller writes, each committed in its own way after
 * the work: a {@code String} and a large {@code byte[]} through message converters that
 * flush, and a {@code StreamingResponseBody} that flushes part by part. Each is a journal
 * unit, so a test can tell that it ran to its end.
 */
@RestController
@RequestMapping("/shapes")
class ResponseShapes {

	/** Larger than Tomcat's 8 KB response buffer, so writing it commits the response. */
	static final int LARGE = 64 * 1024;

	private final Journal journal;

	ResponseShapes(Journal journal) {
		this.journal = journal;
	}

	@GetMapping(path = "/text", produces = MediaType.TEXT_PLAIN_VALUE)
	String text(@RequestParam(defaultValue = "1500") long ms) {
		this.journal.unit("text", "req-" + System.nanoTime(), Duration.ofMillis(ms));
		return "text done";
	}

	@GetMapping("/bytes")
	ResponseEntity<byte[]> bytes(@RequestParam(defaultValue = "1500") long ms) {
		this.journal.unit("bytes", "req-" + System.nanoTime(), Duration.ofMillis(ms));
		byte[] body = new byte[LARGE];
		Arrays.fill(body, (byte) 'b');
		return ResponseEntity.ok().contentType(MediaType.APPLICATION_OCTET_STREAM).body(body);
	}

	@GetMapping(path = "/streaming", produces = MediaType.TEXT_PLAIN_VALUE)
	StreamingResponseBody streaming(@RequestParam(defaultValue = "1500") long ms) {
		return (out) -> {
			this.journal.unit("streaming", "req-" + System.nanoTime(), Duration.ofMillis(ms));
			for (int part = 1; part <= 3; part++) {
				out.write(("part " + part + "\n").getBytes(StandardCharsets.US_ASCII));
				out.flush();
			}
		};
	}

}
