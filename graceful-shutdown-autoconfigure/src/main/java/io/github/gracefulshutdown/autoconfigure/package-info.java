/**
 * Auto-configuration and properties: the only package that wires the others together.
 */
@NullMarked
package io.github.gracefulshutdown.autoconfigure;

import org.jspecify.annotations.NullMarked;
