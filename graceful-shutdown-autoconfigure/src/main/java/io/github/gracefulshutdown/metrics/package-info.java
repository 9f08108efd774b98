/**
 * The {@code graceful.shutdown.*} meters.
 */
@NullMarked
package io.github.gracefulshutdown.metrics;

import org.jspecify.annotations.NullMarked;
