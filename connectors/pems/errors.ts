/**
 * What a PEMS call can end in, as typed errors with stable codes. The retry classifier
 * (streams/retry) matches on these codes, so they are part of the project's contract:
 *
 *   PEMS_SYNC_PEMS_REJECTED      400/413/422  the change itself is wrong: dead letter
 *   PEMS_SYNC_PEMS_UNAUTHORIZED  401/403      credentials or permissions
 *   PEMS_SYNC_PEMS_NOT_FOUND     404
 *   PEMS_SYNC_PEMS_CONFLICT      409          rebase or hand to a person, never a blind retry
 *   PEMS_SYNC_PEMS_RATE_LIMITED  429          retriable after details.retryAfterMs
 *   PEMS_SYNC_PEMS_TRANSIENT     5xx, timeout, reset, refused: retriable with backoff
 *   PEMS_SYNC_PEMS_UNEXPECTED    anything else (3xx, an unlisted 4xx, a body we cannot read)
 *
 * Mirrors the contract's "Errors and what they mean for a client" table (schemas/openapi/pems-api.json).
 */
import { causeChain, PemsSyncError } from '../../streams/errors';

import type { FieldError } from '../../streams/field-error';

/** PEMS's field errors are the project's FieldError (field and message). */
export type PemsFieldError = FieldError;

export class PemsRejectedError extends PemsSyncError {
  constructor(
    message: string,
    details: { status: number; error?: string; fieldErrors: PemsFieldError[] },
    cause?: unknown,
  ) {
    super('PEMS_SYNC_PEMS_REJECTED', message, { details: { ...details }, cause });
  }
}

export class PemsUnauthorizedError extends PemsSyncError {
  constructor(message: string, details: { status: number; error?: string }, cause?: unknown) {
    super('PEMS_SYNC_PEMS_UNAUTHORIZED', message, { details: { ...details }, cause });
  }
}

export class PemsNotFoundError extends PemsSyncError {
  constructor(message: string, details: { status: number; error?: string }, cause?: unknown) {
    super('PEMS_SYNC_PEMS_NOT_FOUND', message, { details: { ...details }, cause });
  }
}

export class PemsConflictError extends PemsSyncError {
  constructor(
    message: string,
    details: {
      status: number;
      currentVersion: number | null;
      expectedVersion: number | null;
      conflictingFields: string[];
    },
    cause?: unknown,
  ) {
    super('PEMS_SYNC_PEMS_CONFLICT', message, { details: { ...details }, cause });
  }
}

export class PemsRateLimitedError extends PemsSyncError {
  constructor(message: string, details: { status: number; retryAfterMs: number }, cause?: unknown) {
    super('PEMS_SYNC_PEMS_RATE_LIMITED', message, { details: { ...details }, cause, retriable: true });
  }
}

export class PemsTransientError extends PemsSyncError {
  constructor(message: string, details: { status?: number; errorCode?: string; error?: string }, cause?: unknown) {
    super('PEMS_SYNC_PEMS_TRANSIENT', message, { details: { ...details }, cause, retriable: true });
  }
}

export class PemsUnexpectedError extends PemsSyncError {
  constructor(message: string, details: Record<string, unknown>, cause?: unknown) {
    super('PEMS_SYNC_PEMS_UNEXPECTED', message, { details, cause });
  }
}

export type PemsError =
  | PemsRejectedError
  | PemsUnauthorizedError
  | PemsNotFoundError
  | PemsConflictError
  | PemsRateLimitedError
  | PemsTransientError
  | PemsUnexpectedError;

/** Retry-After when PEMS gives none or garbage: one second, the bucket's refill period. */
export const DEFAULT_RETRY_AFTER_MS = 1000;

/** Node / axios error codes that mean the exchange failed below HTTP: safe to try again later. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED', // axios: timeout exceeded
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** Retry-After is seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: unknown, now: number = Date.now()): number {
  if (typeof value !== 'string' && typeof value !== 'number') return DEFAULT_RETRY_AFTER_MS;
  const s = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.max(0, Math.round(Number(s) * 1000));
  const at = Date.parse(s);
  if (!Number.isNaN(at)) return Math.max(0, at - now);
  return DEFAULT_RETRY_AFTER_MS;
}

/** The minimal shape of an axios error we read; plain objects let unit tests build one. */
export interface HttpFailure {
  message?: string;
  code?: string;
  response?: { status: number; data?: unknown; headers?: Record<string, unknown> };
}

function header(headers: Record<string, unknown> | undefined, name: string): unknown {
  if (!headers) return undefined;
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  if (typeof h.get === 'function') return h.get(name) ?? undefined;
  return h[name] ?? h[name.toLowerCase()];
}

function asFieldErrors(v: unknown): PemsFieldError[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object')
    .map((e) => ({ field: String(e.field ?? ''), message: String(e.message ?? '') }));
}

function asNumber(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Walks `cause` links (undici and some agents nest the socket error). */
function socketCode(err: unknown): string | undefined {
  for (const e of causeChain(err, 5)) {
    if (typeof e !== 'object' || e === null) break;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return code;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && /socket hang up|timeout of \d+ms exceeded/i.test(message)) return 'ECONNRESET';
  }
  return undefined;
}

/**
 * Maps any failure of a PEMS call to one typed error. Pure: reads the status, body and code,
 * keeps the original as `cause`. `what` names the call for the message (e.g. 'PUT /pfa/X').
 */
export function mapPemsError(err: unknown, what = 'PEMS request', now: number = Date.now()): PemsError {
  if (err instanceof PemsSyncError && err.code.startsWith('PEMS_SYNC_PEMS_')) return err as PemsError;
  // The shared limiter (Redis) refused a token before anything was sent: kept as it is, so the
  // caller waits for it (streams/retry.ts) instead of failing on an "unexpected" PEMS error.
  if (err instanceof PemsSyncError && err.code === 'PEMS_SYNC_RATE_LIMITER_UNAVAILABLE')
    return err as unknown as PemsError;
  const f = (err ?? {}) as HttpFailure;
  const res = f.response;
  if (res && typeof res.status === 'number') {
    const status = res.status;
    const body = (res.data !== null && typeof res.data === 'object' ? res.data : {}) as Record<string, unknown>;
    const error = typeof body.error === 'string' ? body.error : undefined;
    const text = typeof body.message === 'string' ? body.message : (error ?? `HTTP ${status}`);
    const message = `${what}: ${status} ${text}`;
    if (status === 400 || status === 413 || status === 422) {
      return new PemsRejectedError(message, { status, error, fieldErrors: asFieldErrors(body.fieldErrors) }, err);
    }
    if (status === 401 || status === 403) return new PemsUnauthorizedError(message, { status, error }, err);
    if (status === 404) return new PemsNotFoundError(message, { status, error }, err);
    if (status === 409) {
      return new PemsConflictError(
        message,
        {
          status,
          currentVersion: asNumber(body.currentVersion),
          expectedVersion: asNumber(body.expectedVersion),
          conflictingFields: Array.isArray(body.conflictingFields) ? body.conflictingFields.map(String) : [],
        },
        err,
      );
    }
    if (status === 429) {
      return new PemsRateLimitedError(
        message,
        { status, retryAfterMs: parseRetryAfter(header(res.headers, 'retry-after'), now) },
        err,
      );
    }
    if (status >= 500 && status <= 599) return new PemsTransientError(message, { status, error }, err);
    return new PemsUnexpectedError(message, { status, error }, err);
  }
  const code = socketCode(err);
  if (code) {
    return new PemsTransientError(`${what}: ${f.message ?? code}`, { errorCode: code }, err);
  }
  return new PemsUnexpectedError(`${what}: ${f.message ?? String(err)}`, { errorCode: f.code }, err);
}
