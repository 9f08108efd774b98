package io.github.gracefulshutdown;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a method of a singleton bean as a long-lived background job.
 * <p>
 * The method is started once, on its own named thread ({@code background-<name>}, a
 * virtual thread when {@code spring.threads.virtual.enabled=true} on Java 21+), when the
 * application is ready. It is expected to loop until the {@link ShutdownToken} says stop:
 * <pre>{@code
 * @Background
 * void syncLedger(ShutdownToken token) {
 *     while (token.sleep(Duration.ofSeconds(2))) {
 *         ledger.syncOnce();
 *     }
 * }
 * }</pre>
 * Allowed signatures are {@code void m()} and {@code void m(ShutdownToken token)}; the
 * method must not be static or private, and its bean must be an eagerly created
 * singleton. Anything else fails startup with a message naming the method.
 * <p>
 * The job is tracked in the {@link JobRegistry} for as long as its thread runs, so
 * shutdown waits for it within the one deadline. A method that returns before shutdown
 * is logged as finished and is not restarted.
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@Documented
public @interface Background {

	/**
	 * The job's name, unique in the application. Defaults to {@code beanName.methodName}.
	 * @return the name
	 */
	String name() default "";

	/**
	 * What to do when the method throws.
	 * @return the policy, {@link FailurePolicy#RESTART} by default
	 */
	FailurePolicy onFailure() default FailurePolicy.RESTART;

}
