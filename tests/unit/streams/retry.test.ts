import { backoffDelay, causeChain, classify, nextStep, OutageDetector } from '../../../streams/retry';
import { PemsSyncError, type ErrorCode } from '../../../streams/errors';

const pems = (code: string, retriable = false, details: Record<string, unknown> = {}, cause?: unknown) =>
  // Codes outside ERROR_CODES too (SINK_WRITE, SOMETHING): classification must not depend on knowing them.
  new PemsSyncError(code as ErrorCode, `${code} happened`, { retriable, details, cause });

describe('classify', () => {
  it.each([
    ['PEMS_SYNC_PEMS_REJECTED', 'unrecoverable'],
    ['PEMS_SYNC_PEMS_UNAUTHORIZED', 'unrecoverable'],
    ['PEMS_SYNC_PEMS_NOT_FOUND', 'unrecoverable'],
    ['PEMS_SYNC_PEMS_CONFLICT', 'conflict'],
    ['PEMS_SYNC_PEMS_RATE_LIMITED', 'rate_limited'],
    ['PEMS_SYNC_PEMS_TRANSIENT', 'transient'],
  ])('when the error code is %s, then it is %s', (code, cls) => {
    expect(classify(pems(code, code.endsWith('LIMITED') || code.endsWith('TRANSIENT')))).toBe(cls);
  });

  it.each(['PEMS_SYNC_RATE_LIMITER_UNAVAILABLE', 'PEMS_SYNC_INTENT_STORE_UNAVAILABLE'])(
    'when %s (Redis or Postgres away, nothing sent to PEMS), then it is a pause that spends no attempt, not a transient failure',
    (code) => {
      const e = pems(code, true);
      expect(classify(e)).toBe('rate_limited');
      expect(nextStep(3, e, { delaysMs: [10, 20, 30] })).toEqual({ action: 'pause', delayMs: 1000 });
    },
  );

  it('when a generic wrapper hides a PEMS transient error in its cause, then it is transient', () => {
    expect(classify(new Error('write failed', { cause: pems('PEMS_SYNC_PEMS_TRANSIENT', true) }))).toBe('transient');
  });

  it('when a non-retriable project error with another code wraps a 409, then the 409 decides (conflict)', () => {
    const outer = pems('PEMS_SYNC_SINK_WRITE', false, {}, new Error('mid', { cause: pems('PEMS_SYNC_PEMS_CONFLICT') }));
    expect(classify(outer)).toBe('conflict');
  });

  it.each([
    ['TypeError', new TypeError('x is undefined')],
    ['ReferenceError', new ReferenceError('y is not defined')],
    ['RangeError', new RangeError('bad length')],
    ['SyntaxError', new SyntaxError('Unexpected token')],
  ])('when our code throws a %s, then it is a bug', (_n, e) => {
    expect(classify(e)).toBe('bug');
  });

  it('when a TypeError is wrapped in a plain Error, then it is still a bug', () => {
    expect(classify(new Error('handler failed', { cause: new TypeError('boom') }))).toBe('bug');
  });

  it('when the PEMS client wraps a parse SyntaxError as transient, then the outer classification wins', () => {
    expect(classify(pems('PEMS_SYNC_PEMS_TRANSIENT', true, {}, new SyntaxError('bad json')))).toBe('transient');
  });

  it('when PEMS sent an unreadable body (UNEXPECTED wrapping a SyntaxError), then it is unrecoverable, not a bug', () => {
    expect(classify(pems('PEMS_SYNC_PEMS_UNEXPECTED', false, {}, new SyntaxError('Unexpected token <')))).toBe(
      'unrecoverable',
    );
  });

  it('when an error only says retriable: true (e.g. a KafkaJSError), then it is transient', () => {
    expect(classify(Object.assign(new Error('leader not available'), { retriable: true }))).toBe('transient');
  });

  it('when an unknown error is not declared retriable, then it is unrecoverable', () => {
    expect(classify(new Error('mystery'))).toBe('unrecoverable');
    expect(classify(pems('PEMS_SYNC_SOMETHING'))).toBe('unrecoverable');
    expect(classify('a string was thrown')).toBe('unrecoverable');
    expect(classify(undefined)).toBe('unrecoverable');
    expect(classify(null)).toBe('unrecoverable');
  });

  it('when the cause chain is cyclic, then classification terminates', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(classify(a)).toBe('unrecoverable');
    expect(causeChain(a)).toEqual([a, b]);
  });

  it('when a TypeError-named object without Error prototype is thrown, then it is not a bug', () => {
    expect(classify({ name: 'TypeError', message: 'x' })).toBe('unrecoverable');
  });
});

describe('backoffDelay', () => {
  const exact = { jitter: 0 };

  it('when jitter is 0, then the delays follow the list and then double from the last', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, exact))).toEqual([5000, 10000, 20000, 40000, 80000]);
  });

  it('when the doubling passes maxDelayMs, then the delay is capped', () => {
    expect(backoffDelay(10, { ...exact, maxDelayMs: 60_000 })).toBe(60_000);
    expect(backoffDelay(2000, exact)).toBe(300_000);
  });

  it('when random is 0, 0.5 or 1, then the delay is at the low bound, the middle, the high bound', () => {
    const p = { delaysMs: [1000], jitter: 0.2 };
    expect(backoffDelay(1, p, () => 0)).toBe(800);
    expect(backoffDelay(1, p, () => 0.5)).toBe(1000);
    expect(backoffDelay(1, p, () => 1)).toBe(1200);
  });

  it('when random values are drawn, then every delay stays within ±jitter and under the cap', () => {
    let x = 0.123;
    const rnd = () => (x = (x * 9301 + 49297) % 1);
    for (let a = 1; a <= 6; a++) {
      const d = backoffDelay(a, { delaysMs: [100, 200], jitter: 0.5, maxDelayMs: 500 }, rnd);
      const base = a === 1 ? 100 : 200 * 2 ** (a - 2);
      expect(d).toBeGreaterThanOrEqual(Math.min(500, base * 0.5));
      expect(d).toBeLessThanOrEqual(Math.min(500, base * 1.5));
    }
  });

  it('when the cap applies after jitter, then the high jitter cannot exceed it', () => {
    expect(backoffDelay(1, { delaysMs: [1000], jitter: 1, maxDelayMs: 1500 }, () => 1)).toBe(1500);
  });

  it('when random misbehaves (outside 0..1), then it is clamped', () => {
    expect(backoffDelay(1, { delaysMs: [1000], jitter: 0.2 }, () => 7)).toBe(1200);
  });

  it('when inputs are invalid, then it throws RangeError', () => {
    expect(() => backoffDelay(0)).toThrow(RangeError);
    expect(() => backoffDelay(1.5)).toThrow(RangeError);
    expect(() => backoffDelay(1, { delaysMs: [] })).toThrow(RangeError);
    expect(() => backoffDelay(1, { delaysMs: [-1] })).toThrow(RangeError);
    expect(() => backoffDelay(1, { jitter: 1.5 })).toThrow(RangeError);
    expect(() => backoffDelay(1, { jitter: Number.NaN })).toThrow(RangeError);
  });
});

describe('nextStep', () => {
  const policy = { delaysMs: [10, 20, 40], jitter: 0 };

  it('when a transient error happens on the first try, then retry after the first delay', () => {
    expect(nextStep(1, pems('PEMS_SYNC_PEMS_TRANSIENT', true), policy)).toEqual({ action: 'retry', delayMs: 10 });
    expect(nextStep(3, pems('PEMS_SYNC_PEMS_TRANSIENT', true), policy)).toEqual({ action: 'retry', delayMs: 40 });
  });

  it('when transient errors exhaust the attempts (default 1 + delays), then fail naming the count', () => {
    const s = nextStep(4, pems('PEMS_SYNC_PEMS_TRANSIENT', true), policy);
    expect(s).toMatchObject({ action: 'fail', errorClass: 'transient' });
    expect(s.action === 'fail' && s.reason).toMatch(/after 4 attempts/);
    expect(nextStep(2, pems('PEMS_SYNC_PEMS_TRANSIENT', true), { ...policy, maxAttempts: 2 }).action).toBe('fail');
  });

  it('when rate limited with Retry-After, then pause that long whatever the attempts so far', () => {
    const e = pems('PEMS_SYNC_PEMS_RATE_LIMITED', true, { retryAfterMs: 2000 });
    expect(nextStep(99, e, policy)).toEqual({ action: 'pause', delayMs: 2000 });
  });

  it('when rate limited without a usable Retry-After, then pause the default; a huge one is capped', () => {
    expect(nextStep(1, pems('PEMS_SYNC_PEMS_RATE_LIMITED', true), policy)).toEqual({ action: 'pause', delayMs: 1000 });
    expect(
      nextStep(1, pems('PEMS_SYNC_PEMS_RATE_LIMITED', true, { retryAfterMs: 'soon' }), { rateLimitDefaultMs: 250 }),
    ).toEqual({
      action: 'pause',
      delayMs: 250,
    });
    expect(nextStep(1, pems('PEMS_SYNC_PEMS_RATE_LIMITED', true, { retryAfterMs: 3_600_000 }))).toEqual({
      action: 'pause',
      delayMs: 60_000,
    });
  });

  it('when a wrapped 429 is the cause, then its Retry-After is still found', () => {
    const e = new Error('batch failed', { cause: pems('PEMS_SYNC_PEMS_RATE_LIMITED', true, { retryAfterMs: 3000 }) });
    expect(nextStep(1, e)).toEqual({ action: 'pause', delayMs: 3000 });
  });

  it('when a 409 comes for the first time, then recheck; after one recheck, fail', () => {
    const e = pems('PEMS_SYNC_PEMS_CONFLICT', false, { currentVersion: 9, expectedVersion: 7, conflictingFields: [] });
    expect(nextStep(1, e, policy, 0)).toEqual({ action: 'recheck' });
    expect(nextStep(2, e, policy, 1)).toMatchObject({ action: 'fail', errorClass: 'conflict' });
  });

  it('when PEMS rejects the change (400), then dead-letter at once', () => {
    expect(nextStep(1, pems('PEMS_SYNC_PEMS_REJECTED'), policy)).toMatchObject({
      action: 'dead_letter',
      errorClass: 'unrecoverable',
    });
  });

  it('when our code throws a TypeError, then it is dead-lettered as a bug and never retried', () => {
    const s = nextStep(1, new TypeError("Cannot read properties of undefined (reading 'x')"), policy);
    expect(s).toMatchObject({ action: 'dead_letter', errorClass: 'bug' });
    expect(s.action === 'dead_letter' && s.reason).toMatch(/^bug: Cannot read/);
  });
});

describe('OutageDetector', () => {
  it('when fewer than N consecutive transient failures occur, then PEMS stays up', () => {
    const d = new OutageDetector({ threshold: 3 });
    d.record('transient', 0);
    const s = d.record('transient', 1);
    expect(s).toMatchObject({ state: 'up', changed: false, consecutiveTransient: 2 });
  });

  it('when a success interrupts the failures, then the count restarts', () => {
    const d = new OutageDetector({ threshold: 3 });
    d.record('transient', 0);
    d.record('transient', 1);
    d.record('success', 2);
    d.record('transient', 3);
    expect(d.record('transient', 4).state).toBe('up');
  });

  it('when N consecutive transient failures occur, then it goes down once (changed only on the transition)', () => {
    const d = new OutageDetector({ threshold: 3 });
    d.record('transient', 0);
    d.record('transient', 1);
    expect(d.record('transient', 2)).toEqual({ state: 'down', changed: true, consecutiveTransient: 3, sinceMs: 2 });
    expect(d.record('transient', 3)).toMatchObject({ state: 'down', changed: false });
  });

  it('when a probe succeeds, then it is up again with changed=true', () => {
    const d = new OutageDetector({ threshold: 1 });
    d.record('transient', 0);
    expect(d.probeResult(true, 150)).toEqual({ state: 'up', changed: true, consecutiveTransient: 0, sinceMs: 150 });
    expect(d.current().state).toBe('up');
  });

  it('when options are invalid, then it throws RangeError', () => {
    expect(() => new OutageDetector({ threshold: 0 })).toThrow(RangeError);
  });
});
