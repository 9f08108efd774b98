/**
 * What applications code against, and nothing else: {@link io.github.gracefulshutdown.Background @Background}
 * jobs with their {@link io.github.gracefulshutdown.FailurePolicy}, the one
 * {@link io.github.gracefulshutdown.ShutdownToken}, the
 * {@link io.github.gracefulshutdown.JobRegistry} and its
 * {@link io.github.gracefulshutdown.TrackedJob}s,
 * {@link io.github.gracefulshutdown.ShutdownInProgressException}, and
 * {@link io.github.gracefulshutdown.ShutdownParticipant}, the extension point for a
 * server or resource of your own. The shutdown sequence itself lives in
 * {@code io.github.gracefulshutdown.core}.
 */
@NullMarked
package io.github.gracefulshutdown;

import org.jspecify.annotations.NullMarked;
