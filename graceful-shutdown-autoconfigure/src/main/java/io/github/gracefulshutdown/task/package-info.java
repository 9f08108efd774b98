/**
 * Tracks the tasks of executor and scheduler beans, {@code @Async} and {@code @Scheduled}
 * executions among them, as jobs.
 */
@NullMarked
package io.github.gracefulshutdown.task;

import org.jspecify.annotations.NullMarked;
