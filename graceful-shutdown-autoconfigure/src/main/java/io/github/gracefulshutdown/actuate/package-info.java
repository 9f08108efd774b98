/**
 * The {@code shutdownStatus} actuator endpoint.
 */
@NullMarked
package io.github.gracefulshutdown.actuate;

import org.jspecify.annotations.NullMarked;
