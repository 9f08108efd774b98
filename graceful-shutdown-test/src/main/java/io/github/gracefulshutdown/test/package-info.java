/**
 * Rehearse a shutdown in a test: {@link io.github.gracefulshutdown.test.ShutdownRehearsal}
 * closes a context the way SIGTERM does and returns its
 * {@link io.github.gracefulshutdown.test.ShutdownVerdict}, on which AssertJ's
 * {@code assertThat} asserts.
 */
@NullMarked
package io.github.gracefulshutdown.test;

import org.jspecify.annotations.NullMarked;
