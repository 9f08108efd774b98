package io.github.gracefulshutdown.background;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * Explains a {@link BackgroundJobDefinitionException}: which bean and method, what is
 * wrong, and what is allowed.
 */
class BackgroundJobFailureAnalyzer extends AbstractFailureAnalyzer<BackgroundJobDefinitionException> {

	@Override
	protected FailureAnalysis analyze(Throwable rootFailure, BackgroundJobDefinitionException cause) {
		String description = "The @Background method " + cause.getMethodDescription() + " on bean '"
				+ cause.getBeanName() + "' " + cause.getProblem() + ".";
		return new FailureAnalysis(description, cause.getAction(), cause);
	}

}
