package io.github.gracefulshutdown.web;

/**
 * A request in flight that the server ends once it has finished writing its response
 * ({@link TomcatResponsesFinished}), rather than its handler when it returns. The
 * request attribute {@link #ATTRIBUTE} holds it until then.
 */
interface EndsWhenResponseFinished {

	/** The request attribute that holds a request's entry until the server ends it. */
	String ATTRIBUTE = EndsWhenResponseFinished.class.getName();

	/**
	 * Ends the request: its response is finished.
	 */
	void responseFinished();

	/**
	 * Ends the request that an attribute value holds, if it holds one.
	 * @param attribute the value of {@link #ATTRIBUTE}
	 */
	static void responseFinished(Object attribute) {
		if (attribute instanceof EndsWhenResponseFinished request) {
			request.responseFinished();
		}
	}

}
