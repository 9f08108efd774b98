package io.github.gracefulshutdown.background;

import java.lang.reflect.Method;

import org.springframework.util.ClassUtils;

/**
 * Thrown at startup when a {@link io.github.gracefulshutdown.Background @Background}
 * method cannot be run as a job. Its failure analysis names the bean, the method, what
 * is wrong and what is allowed.
 */
public class BackgroundJobDefinitionException extends RuntimeException {

	private static final long serialVersionUID = 1L;

	private final String beanName;

	private final String methodDescription;

	private final String problem;

	private final String action;

	BackgroundJobDefinitionException(String beanName, Method method, String problem, String action) {
		super("@Background method " + describe(method) + " on bean '" + beanName + "' " + problem);
		this.beanName = beanName;
		this.methodDescription = describe(method);
		this.problem = problem;
		this.action = action;
	}

	/**
	 * Returns the name of the bean that declares the method.
	 * @return the bean name
	 */
	public String getBeanName() {
		return this.beanName;
	}

	/**
	 * Returns the offending method, as {@code Type.method(ParameterTypes)}.
	 * @return the method
	 */
	public String getMethodDescription() {
		return this.methodDescription;
	}

	/**
	 * Returns what is wrong, as a phrase that follows the method's name.
	 * @return the problem
	 */
	public String getProblem() {
		return this.problem;
	}

	/**
	 * Returns what to change.
	 * @return the action
	 */
	public String getAction() {
		return this.action;
	}

	static String describe(Method method) {
		StringBuilder description = new StringBuilder(ClassUtils.getQualifiedMethodName(method)).append('(');
		Class<?>[] types = method.getParameterTypes();
		for (int i = 0; i < types.length; i++) {
			description.append((i > 0) ? ", " : "").append(types[i].getSimpleName());
		}
		return description.append(')').toString();
	}

}
