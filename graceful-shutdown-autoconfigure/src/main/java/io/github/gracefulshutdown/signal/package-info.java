/**
 * Makes a second SIGTERM or SIGINT halt the process.
 */
@NullMarked
package io.github.gracefulshutdown.signal;

import org.jspecify.annotations.NullMarked;
