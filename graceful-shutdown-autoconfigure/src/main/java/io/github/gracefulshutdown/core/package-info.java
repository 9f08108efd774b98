/**
 * The shutdown sequence and what it is built from: the coordinator, the token's cancel,
 * the job registry, the in-flight tracker that jobs and requests share, and the read
 * models that the endpoint and the meters show. Every other package depends on this one
 * and on the API, never on each other.
 */
@NullMarked
package io.github.gracefulshutdown.core;

import org.jspecify.annotations.NullMarked;
