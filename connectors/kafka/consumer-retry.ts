/**
 * A consumer's retry options that never bring it back once its owner is stopping.
 *
 * kafkajs handles a crash by disconnecting the consumer first and deciding afterwards whether to
 * restart it; only then does it set the restart timer. A disconnect() that comes while the crash's
 * own disconnect is under way shares it and clears a timer that does not exist yet, so the
 * consumer came back after its owner had stopped: a group member nobody stops
 * (tests/regression/mirror-stop-during-crash.test.ts). kafkajs asks `restartOnFailure` after that
 * disconnect and sets the timer in the same turn, so an owner that marks itself stopping before it
 * disconnects is never restarted. `retries` is kafkajs's consumer default (5), kept.
 */
import type { RetryOptions } from 'kafkajs';

export function retryUnlessStopping(stopping: () => boolean): RetryOptions {
  return { retries: 5, restartOnFailure: async () => !stopping() };
}
