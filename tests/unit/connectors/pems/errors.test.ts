import { AxiosError, AxiosHeaders } from 'axios';
import { PemsSyncError } from '../../../../streams/errors';
import { itemError } from '../../../../connectors/pems/client';
import { mapPemsError, parseRetryAfter } from '../../../../connectors/pems/errors';
import { classify } from '../../../../streams/retry';

function httpError(status: number, data: unknown, headers: Record<string, string> = {}): AxiosError {
  const config = { headers: new AxiosHeaders() } as never;
  return new AxiosError(
    `Request failed with status code ${status}`,
    'ERR_BAD_RESPONSE',
    config,
    {},
    {
      status,
      statusText: '',
      data,
      headers,
      config,
    },
  );
}

function netError(code: string, message = code): AxiosError {
  return new AxiosError(message, code, { headers: new AxiosHeaders() } as never);
}

describe('mapPemsError', () => {
  it('when the shared rate limiter refused a token (Redis away), then the error is kept as it is and is a pause, not an unexpected PEMS error', () => {
    const limiter = new PemsSyncError('PEMS_SYNC_RATE_LIMITER_UNAVAILABLE', 'shared rate limiter: max retries', {
      retriable: true,
    });
    const e = mapPemsError(limiter, 'GET /pfa/X');
    expect(e).toBe(limiter);
    expect(classify(e)).toBe('rate_limited');
  });

  it.each([400, 413, 422])(
    'when PEMS answers %i, then PEMS_SYNC_PEMS_REJECTED, not retriable, with fieldErrors and error',
    (status) => {
      const cause = httpError(status, {
        error: 'VALIDATION_FAILED',
        message: 'bad',
        fieldErrors: [{ field: 'forecastEnd', message: 'before start' }],
      });
      const e = mapPemsError(cause, 'PUT /pfa/X');
      expect(e).toBeInstanceOf(PemsSyncError);
      expect(e.code).toBe('PEMS_SYNC_PEMS_REJECTED');
      expect(e.retriable).toBe(false);
      expect(e.details).toMatchObject({
        status,
        error: 'VALIDATION_FAILED',
        fieldErrors: [{ field: 'forecastEnd', message: 'before start' }],
      });
      expect(e.cause).toBe(cause);
      expect(e.message).toContain('PUT /pfa/X');
    },
  );

  it.each([401, 403])('when PEMS answers %i, then PEMS_SYNC_PEMS_UNAUTHORIZED, not retriable', (status) => {
    const e = mapPemsError(httpError(status, { error: status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN' }));
    expect(e.code).toBe('PEMS_SYNC_PEMS_UNAUTHORIZED');
    expect(e.retriable).toBe(false);
  });

  it('when PEMS answers 404, then PEMS_SYNC_PEMS_NOT_FOUND, not retriable', () => {
    const e = mapPemsError(httpError(404, { error: 'NOT_FOUND' }));
    expect(e.code).toBe('PEMS_SYNC_PEMS_NOT_FOUND');
    expect(e.retriable).toBe(false);
  });

  it('when PEMS answers 409, then PEMS_SYNC_PEMS_CONFLICT with both versions and the conflicting fields', () => {
    const e = mapPemsError(
      httpError(409, {
        error: 'VERSION_CONFLICT',
        currentVersion: 9,
        expectedVersion: 7,
        conflictingFields: ['forecastStart'],
      }),
    );
    expect(e.code).toBe('PEMS_SYNC_PEMS_CONFLICT');
    expect(e.retriable).toBe(false);
    expect(e.details).toMatchObject({ currentVersion: 9, expectedVersion: 7, conflictingFields: ['forecastStart'] });
  });

  it('when PEMS answers 429 with Retry-After 3, then PEMS_SYNC_PEMS_RATE_LIMITED, retriable, retryAfterMs 3000', () => {
    const e = mapPemsError(httpError(429, { error: 'RATE_LIMITED' }, { 'retry-after': '3' }));
    expect(e.code).toBe('PEMS_SYNC_PEMS_RATE_LIMITED');
    expect(e.retriable).toBe(true);
    expect(e.details.retryAfterMs).toBe(3000);
  });

  it('when PEMS answers 429 without Retry-After, then retryAfterMs defaults to one second', () => {
    expect(mapPemsError(httpError(429, {})).details.retryAfterMs).toBe(1000);
  });

  it.each([500, 502, 503, 504])('when PEMS answers %i, then PEMS_SYNC_PEMS_TRANSIENT, retriable', (status) => {
    const e = mapPemsError(httpError(status, { error: 'UNAVAILABLE' }));
    expect(e.code).toBe('PEMS_SYNC_PEMS_TRANSIENT');
    expect(e.retriable).toBe(true);
    expect(e.details.status).toBe(status);
  });

  it.each([
    ['ECONNRESET', 'read ECONNRESET'],
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'],
    ['ECONNABORTED', 'timeout of 50ms exceeded'],
    ['ETIMEDOUT', 'connect ETIMEDOUT'],
    ['ERR_NETWORK', 'socket hang up'],
  ])('when the request fails with %s (%s), then PEMS_SYNC_PEMS_TRANSIENT, retriable', (code, message) => {
    const cause = netError(code, message);
    const e = mapPemsError(cause);
    expect(e.code).toBe('PEMS_SYNC_PEMS_TRANSIENT');
    expect(e.retriable).toBe(true);
    expect(e.cause).toBe(cause);
  });

  it('when the socket error is nested in cause, then it is still found', () => {
    const inner = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const outer = new Error('fetch failed', { cause: inner });
    expect(mapPemsError(outer).code).toBe('PEMS_SYNC_PEMS_TRANSIENT');
  });

  it.each([
    ['a 302', httpError(302, {})],
    ['a 405', httpError(405, {})],
    ['a TypeError (a bug)', new TypeError('x is not a function')],
    ['a string', 'boom'],
  ])('when the failure is %s, then PEMS_SYNC_PEMS_UNEXPECTED, not retriable', (_name, err) => {
    const e = mapPemsError(err);
    expect(e.code).toBe('PEMS_SYNC_PEMS_UNEXPECTED');
    expect(e.retriable).toBe(false);
  });

  it('when the error is already mapped, then it is returned as is', () => {
    const first = mapPemsError(httpError(404, {}));
    expect(mapPemsError(first)).toBe(first);
  });

  it('when a mapped error is serialized, then code, retriable and details survive JSON', () => {
    const json = JSON.parse(
      JSON.stringify(mapPemsError(httpError(409, { currentVersion: 2, expectedVersion: 1, conflictingFields: [] }))),
    );
    expect(json).toMatchObject({
      code: 'PEMS_SYNC_PEMS_CONFLICT',
      retriable: false,
      details: { currentVersion: 2, expectedVersion: 1 },
    });
  });
});

describe('parseRetryAfter', () => {
  it('when Retry-After is an HTTP date, then the wait is the time until it', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
  });
  it('when Retry-After is garbage, then one second', () => {
    expect(parseRetryAfter('soon')).toBe(1000);
  });
});

describe('itemError', () => {
  it('when a batch item conflicted, then it maps to PEMS_SYNC_PEMS_CONFLICT with the item details', () => {
    const e = itemError({
      pfaId: 'P1',
      status: 'conflict',
      error: { error: 'VERSION_CONFLICT', currentVersion: 4, expectedVersion: 3, conflictingFields: ['notes'] },
    });
    expect(e?.code).toBe('PEMS_SYNC_PEMS_CONFLICT');
    expect(e?.details).toMatchObject({ currentVersion: 4, conflictingFields: ['notes'] });
  });
  it('when a batch item reused a key, then it maps to REJECTED with status 422', () => {
    const e = itemError({ pfaId: 'P1', status: 'invalid', error: { error: 'IDEMPOTENCY_KEY_REUSED' } });
    expect(e?.code).toBe('PEMS_SYNC_PEMS_REJECTED');
    expect(e?.details).toMatchObject({ status: 422, error: 'IDEMPOTENCY_KEY_REUSED' });
  });
  it('when a batch item was updated, then there is no error', () => {
    expect(itemError({ pfaId: 'P1', status: 'updated', newVersion: 2 })).toBeUndefined();
  });
});
