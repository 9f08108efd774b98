/**
 * Tracks {@code @Async} and {@code @Scheduled} executions as jobs.
 */
@NullMarked
package io.github.gracefulshutdown.task;

import org.jspecify.annotations.NullMarked;
