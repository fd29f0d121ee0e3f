/**
 * kafkajs 2.2.4 (its last release) re-arms a broker connection's pending-requests check after
 * every check, and with nothing pending and no throttle it arms it with a negative delay: every
 * connection a client has used runs a 1 ms timer loop for as long as it lives (kafkajs issues
 * #1556 and #1704; the fix proposed in pull request #1667 was never released). An idle sink spent
 * 41-67 ms of CPU per second on it, and every process here builds its clients in client.ts.
 *
 * Installed once, on import: the check is armed only while requests wait, the only time it has
 * work (throttled: when the throttle ends; over the in-flight bound: every 10 ms, as kafkajs
 * does). A request is enqueued through push(), which arms it; an answered or timed-out request
 * runs the check itself, so nothing waiting is left without one.
 */
import { createRequire } from 'node:module';

interface RequestQueueInternals {
  pending: unknown[];
  scheduleCheckPendingRequests(): void;
}

type RequestQueueClass = { prototype: RequestQueueInternals & { [PATCHED]?: true } };

const PATCHED = Symbol.for('pems-sync.kafkajs-request-queue-timer');

/** kafkajs's RequestQueue class (internal, not exported by its entry point). */
export function kafkajsRequestQueue(): RequestQueueClass {
  return createRequire(require.resolve('kafkajs'))('./src/network/requestQueue') as RequestQueueClass;
}

/** Arms the pending-requests check only while requests wait; idempotent. */
export function installRequestQueueTimerFix(queue: RequestQueueClass = kafkajsRequestQueue()): void {
  const proto = queue.prototype;
  if (proto[PATCHED]) return;
  const schedule = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: RequestQueueInternals): void {
    if (this.pending.length > 0) schedule.call(this);
  };
  proto[PATCHED] = true;
}

installRequestQueueTimerFix();
