/**
 * Error classification, backoff and the next step after a failed PEMS write. Pure: the edge
 * owns timers, pausing partitions and the health probe; this module only decides.
 *
 * Classes (STYLE.md, "Errors"):
 * - unrecoverable: 4xx (400/413/422/401/403/404), bad payload → dead letter at once (BullMQ
 *   UnrecoverableError);
 * - rate_limited: 429 → pause until Retry-After, no attempt spent (BullMQ RateLimitError;
 *   kafkajs consumer.pause/resume);
 * - conflict: 409 → back through the version check once (rebase or hand to a person);
 * - transient: 5xx, timeouts, resets → exponential backoff with jitter;
 * - bug: TypeError / ReferenceError / RangeError / SyntaxError from our own code → never
 *   retried (kafkajs src/retry/index.js does not retry non-retriable errors either).
 *
 * streams/ never imports connectors/: PEMS client errors are matched by their `code` strings
 * (connectors/pems/errors.ts) and the `retriable` flag, walking the native `cause` chain.
 */

export type ErrorClass = 'unrecoverable' | 'rate_limited' | 'conflict' | 'transient' | 'bug';

/** The PEMS client's codes (connectors/pems/errors.ts) and what each means here. */
export const PEMS_ERROR_CLASSES: Readonly<Record<string, ErrorClass>> = {
  PEMS_SYNC_PEMS_REJECTED: 'unrecoverable',
  PEMS_SYNC_PEMS_UNAUTHORIZED: 'unrecoverable',
  PEMS_SYNC_PEMS_NOT_FOUND: 'unrecoverable',
  PEMS_SYNC_PEMS_CONFLICT: 'conflict',
  PEMS_SYNC_PEMS_RATE_LIMITED: 'rate_limited',
  // The shared limiter (Redis) cannot hand out a token: no request was sent, and none may be
  // until it can. Waiting for it spends no attempt, so a Redis restart never fails a write.
  PEMS_SYNC_RATE_LIMITER_UNAVAILABLE: 'rate_limited',
  // Likewise when the write-ahead intent cannot be stored (Postgres restarting): nothing was sent.
  PEMS_SYNC_INTENT_STORE_UNAVAILABLE: 'rate_limited',
  PEMS_SYNC_PEMS_TRANSIENT: 'transient',
  // 3xx, an unlisted 4xx, an unreadable body. Listed so the walk stops here: its cause may be
  // a SyntaxError from parsing PEMS's body, which is PEMS's fault, not a bug of ours.
  PEMS_SYNC_PEMS_UNEXPECTED: 'unrecoverable',
};

const BUG_NAMES = new Set(['TypeError', 'ReferenceError', 'RangeError', 'SyntaxError']);
import { causeChain } from './errors';

export { causeChain };

function isBug(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  // Built-in classes only: instanceof covers subclasses, the constructor check keeps out
  // project errors that set name: 'TypeError' (they carry a code and are matched first).
  return (
    e instanceof TypeError ||
    e instanceof ReferenceError ||
    e instanceof RangeError ||
    e instanceof SyntaxError ||
    // errors from another realm (vm, worker) fail instanceof; their name still tells
    (BUG_NAMES.has(e.name) && !('code' in e))
  );
}

/**
 * Walks the chain outermost first; the first decisive link wins:
 * a known PEMS code → its class; a built-in programming error → bug; an explicit
 * `retriable: true` (PemsSyncError, KafkaJSError) → transient. Other links (generic wrappers,
 * unknown codes with retriable false) say nothing and the walk goes on. Nothing decisive →
 * unrecoverable: an error nobody declared retriable is not retried (STYLE.md).
 *
 * Outermost first matters: a client that wraps a JSON.parse SyntaxError of a garbled PEMS
 * response as PEMS_SYNC_PEMS_TRANSIENT is transient, not a bug; a generic wrapper around a
 * TypeError from our code is still a bug.
 */
export function classify(err: unknown): ErrorClass {
  for (const link of causeChain(err)) {
    if (typeof link === 'object' && link !== null) {
      const code = (link as { code?: unknown }).code;
      if (typeof code === 'string') {
        const cls = PEMS_ERROR_CLASSES[code];
        if (cls) return cls;
      }
    }
    if (isBug(link)) return 'bug';
    if (typeof link === 'object' && link !== null && (link as { retriable?: unknown }).retriable === true)
      return 'transient';
  }
  return 'unrecoverable';
}

/** The first link of the chain with the given code, for reading its details. */
function findCode(err: unknown, code: string): { details?: Record<string, unknown> } | undefined {
  for (const link of causeChain(err)) {
    if (typeof link === 'object' && link !== null && (link as { code?: unknown }).code === code) {
      return link as { details?: Record<string, unknown> };
    }
  }
  return undefined;
}

export interface BackoffPolicy {
  /**
   * Delay before retry n (1-based) is delaysMs[n-1]; past the list it doubles from the last.
   * Default [5000, 10000, 20000] ms.
   */
  delaysMs?: readonly number[];
  /** Spread 0..1: the delay is drawn uniformly from [d·(1−jitter), d·(1+jitter)]. Default 0.2. */
  jitter?: number;
  /** Upper bound in ms applied after jitter. Default 300000 (5 min). */
  maxDelayMs?: number;
}

export const DEFAULT_DELAYS_MS: readonly number[] = [5000, 10000, 20000];
export const DEFAULT_JITTER = 0.2;
export const DEFAULT_MAX_DELAY_MS = 300_000;

/**
 * Delay before the next try after `attempt` failed tries (attempt ≥ 1). Deterministic when
 * `random` is injected (tests pass () => 0, 0.5, 1 to pin the bounds).
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = {}, random: () => number = Math.random): number {
  const delays = policy.delaysMs ?? DEFAULT_DELAYS_MS;
  const jitter = policy.jitter ?? DEFAULT_JITTER;
  const maxDelayMs = policy.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  if (!Number.isSafeInteger(attempt) || attempt < 1)
    throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`);
  if (delays.length === 0 || delays.some((d) => !Number.isFinite(d) || d < 0)) {
    throw new RangeError('delaysMs must be a non-empty list of non-negative numbers');
  }
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`jitter must be within 0..1, got ${jitter}`);
  if (!(maxDelayMs >= 0)) throw new RangeError(`maxDelayMs must be >= 0, got ${maxDelayMs}`);

  const listed = delays[attempt - 1];
  // Past the list: keep doubling from the last entry (exponent capped to avoid Infinity math).
  const base = listed ?? delays[delays.length - 1]! * 2 ** Math.min(attempt - delays.length, 52);
  const r = Math.min(1, Math.max(0, random()));
  const jittered = base * (1 - jitter + 2 * jitter * r);
  return Math.round(Math.min(maxDelayMs, Math.max(0, jittered)));
}

export interface RetryPolicy extends BackoffPolicy {
  /** Tries in total for transient errors, the first included. Default 4 (1 + one per delay). */
  maxAttempts?: number;
  /** Pause when a 429 carries no usable Retry-After, in ms. Default 1000. */
  rateLimitDefaultMs?: number;
  /** Longest pause a Retry-After may ask for, in ms. Default 60000. */
  maxRateLimitPauseMs?: number;
  /** How many times a 409 goes back through the version check. Default 1. */
  maxRechecks?: number;
}

export type NextStep =
  | { action: 'retry'; delayMs: number }
  /** Rate limited: pause the partition for delayMs; the attempt does not count. */
  | { action: 'pause'; delayMs: number }
  /** 409: go back through the version check with PEMS's current record and conflictingFields. */
  | { action: 'recheck' }
  /** Gave up on a condition that may pass later: record `failed`; a person may retry it. */
  | { action: 'fail'; errorClass: ErrorClass; reason: string }
  /** The message itself cannot succeed (or our code is wrong): dead-letter it now. */
  | { action: 'dead_letter'; errorClass: ErrorClass; reason: string };

function message(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * What to do after a failed try. `attemptsSoFar` counts tries made, this failed one included
 * (so ≥ 1); `rechecksSoFar` counts earlier 409 rechecks of the same write.
 */
export function nextStep(
  attemptsSoFar: number,
  err: unknown,
  policy: RetryPolicy = {},
  rechecksSoFar = 0,
  random: () => number = Math.random,
): NextStep {
  const cls = classify(err);
  switch (cls) {
    case 'bug':
      // Never retried: the same input would fail the same way. Dead-lettered with the original
      // message so it can be replayed once the code is fixed.
      return { action: 'dead_letter', errorClass: cls, reason: `bug: ${message(err)}` };
    case 'unrecoverable':
      return { action: 'dead_letter', errorClass: cls, reason: message(err) };
    case 'rate_limited': {
      const retryAfter = findCode(err, 'PEMS_SYNC_PEMS_RATE_LIMITED')?.details?.retryAfterMs;
      const fallback = policy.rateLimitDefaultMs ?? 1000;
      const wanted =
        typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : fallback;
      return { action: 'pause', delayMs: Math.round(Math.min(wanted, policy.maxRateLimitPauseMs ?? 60_000)) };
    }
    case 'conflict':
      if (rechecksSoFar < (policy.maxRechecks ?? 1)) return { action: 'recheck' };
      // PEMS moved again between our check and our write: stop looping, let a person see it.
      return {
        action: 'fail',
        errorClass: cls,
        reason: `version conflict persisted after ${rechecksSoFar} recheck(s): ${message(err)}`,
      };
    case 'transient': {
      const maxAttempts = policy.maxAttempts ?? (policy.delaysMs ?? DEFAULT_DELAYS_MS).length + 1;
      if (attemptsSoFar >= maxAttempts) {
        return { action: 'fail', errorClass: cls, reason: `gave up after ${attemptsSoFar} attempts: ${message(err)}` };
      }
      return { action: 'retry', delayMs: backoffDelay(Math.max(1, attemptsSoFar), policy, random) };
    }
  }
}

export interface OutageOptions {
  /** Consecutive transient failures that mean "PEMS unreachable". Default 5. */
  threshold?: number;
}

export interface OutageState {
  state: 'up' | 'down';
  /** True on the call that changed the state (edge: pause or resume consumption, log, metric). */
  changed: boolean;
  consecutiveTransient: number;
  /** When the current state began (clock value passed in), null before the first result. */
  sinceMs: number | null;
}

/**
 * Pure state machine: N consecutive transient failures → down (the edge pauses consumption and
 * probes GET /health, connectors/sink/health.ts); a successful probe or write → up. Anything that shows
 * PEMS answered (a success, but also a 4xx, 409 or 429) should be fed as 'success': only
 * 'transient' (5xx, timeouts, resets) counts towards an outage. Time is passed in, never read.
 */
export class OutageDetector {
  private readonly threshold: number;
  private consecutive = 0;
  private state: 'up' | 'down' = 'up';
  private sinceMs: number | null = null;

  constructor(opts: OutageOptions = {}) {
    this.threshold = opts.threshold ?? 5;
    if (!Number.isSafeInteger(this.threshold) || this.threshold < 1)
      throw new RangeError('threshold must be an integer >= 1');
  }

  record(result: 'success' | 'transient', nowMs: number): OutageState {
    const before = this.state;
    if (this.sinceMs === null) this.sinceMs = nowMs;
    if (result === 'success') {
      this.consecutive = 0;
      this.state = 'up';
    } else {
      this.consecutive += 1;
      if (this.consecutive >= this.threshold) this.state = 'down';
    }
    const changed = before !== this.state;
    if (changed) this.sinceMs = nowMs;
    return this.snapshot(changed);
  }

  /** A probe result counts like any other result. */
  probeResult(ok: boolean, nowMs: number): OutageState {
    return this.record(ok ? 'success' : 'transient', nowMs);
  }

  current(): OutageState {
    return this.snapshot(false);
  }

  private snapshot(changed: boolean): OutageState {
    return { state: this.state, changed, consecutiveTransient: this.consecutive, sinceMs: this.sinceMs };
  }
}
