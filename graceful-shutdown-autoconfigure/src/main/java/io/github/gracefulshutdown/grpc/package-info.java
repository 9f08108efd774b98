/**
 * The gRPC server (Spring gRPC, part of Spring Boot 4.1) as a participant of the one
 * shutdown: its calls counted and drained by
 * {@link io.github.gracefulshutdown.grpc.InFlightCalls}, which sends GOAWAY when draining
 * starts and cuts what is left at the deadline, and its health service's status made to
 * follow readiness by {@link io.github.gracefulshutdown.grpc.GrpcHealthFollowsReadiness}.
 * The health service is touched only by that class, so an application without
 * {@code grpc-services} loads none of it.
 */
@NullMarked
package io.github.gracefulshutdown.grpc;

import org.jspecify.annotations.NullMarked;
