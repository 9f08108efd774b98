/**
 * Finds, validates and runs {@code @Background} methods on their own threads.
 */
@NullMarked
package io.github.gracefulshutdown.background;

import org.jspecify.annotations.NullMarked;
