/**
 * The simulator's HTTP helpers: the contract's constants, its error answer, request parsing
 * (path segments, idempotency keys, write envelopes, JSON bodies within size and depth limits)
 * and the mapping of a store outcome to a status and error body. No state.
 */
import type http from 'node:http';
import selfsigned from 'selfsigned';
import { isPlainObject } from '../../streams/validation';
import type { WriteOutcome } from './store';
import { decodePathSegment, MAX_BODY_DEPTH, nestedDeeperThan } from './request-guards';

export const BASE_PATH = '/api/pems';
export const MAX_BATCH_ITEMS = 100;
export const MAX_LIST_LIMIT = 500;
export const DEFAULT_LIST_LIMIT = 100;
/** Past this many bytes we stop draining an oversized body and drop the connection. */
const DRAIN_FACTOR = 16;

let cachedCert: { key: string; cert: string } | undefined;

/** One self-signed pair per process: generation costs ~0.4 s and tests start many simulators. */
export function selfSignedCert(): { key: string; cert: string } {
  if (!cachedCert) {
    const pems = selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      days: 30,
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', keyCertSign: true, digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    });
    cachedCert = { key: pems.private, cert: pems.cert };
  }
  return cachedCert;
}

/** An answer in the contract's error shape; a 429 carries its Retry-After (seconds). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly retryAfter?: number,
  ) {
    super(String(body.message ?? body.error));
  }
}

export function bad(field: string, message: string): HttpError {
  return new HttpError(400, {
    error: 'VALIDATION_FAILED',
    message: `${field}: ${message}`,
    fieldErrors: [{ field, message }],
  });
}

export function endpointOf(method: string, segments: string[]): string {
  const [a, b] = segments;
  if (segments.length === 1 && a === 'health' && method === 'GET') return 'GET /health';
  if (a !== 'pfa') return 'unknown';
  if (segments.length === 1 && method === 'GET') return 'GET /pfa';
  if (segments.length === 2 && b === 'batch' && method === 'POST') return 'POST /pfa/batch';
  if (segments.length === 2 && b !== 'batch') {
    if (method === 'GET') return 'GET /pfa/{id}';
    if (method === 'PUT') return 'PUT /pfa/{id}';
    if (method === 'DELETE') return 'DELETE /pfa/{id}';
  }
  return 'unknown';
}

export function outcomeStatus(o: WriteOutcome): number {
  switch (o.kind) {
    case 'updated':
      return 200;
    case 'not_found':
      return 404;
    case 'forbidden':
      return 403;
    case 'conflict':
      return 409;
    case 'invalid':
      return o.error === 'IDEMPOTENCY_KEY_REUSED' ? 422 : 400;
  }
}

/** The error body of a refused write; shared by single writes and batch items. */
export function outcomeError(o: WriteOutcome): Record<string, unknown> | undefined {
  switch (o.kind) {
    case 'updated':
      return undefined;
    case 'not_found':
      return { error: 'NOT_FOUND', message: `no PFA record ${o.pfaId}` };
    case 'forbidden':
      return { error: 'FORBIDDEN', message: `record ${o.pfaId} belongs to another organization` };
    case 'conflict':
      return {
        error: 'VERSION_CONFLICT',
        message: `record ${o.pfaId} is at version ${o.currentVersion}, not ${o.expectedVersion}`,
        currentVersion: o.currentVersion,
        expectedVersion: o.expectedVersion,
        conflictingFields: o.conflictingFields,
      };
    case 'invalid':
      return { error: o.error, message: o.message, fieldErrors: o.fieldErrors };
  }
}

export const BATCH_STATUS: Record<WriteOutcome['kind'], string> = {
  updated: 'updated',
  not_found: 'not_found',
  forbidden: 'forbidden',
  conflict: 'conflict',
  invalid: 'invalid',
};

/** A path segment, percent-decoded; bad encoding is a 400 naming the field, not a 500. */
export function decodeSegment(raw: string, field: string): string {
  const v = decodePathSegment(raw);
  if (v === undefined) throw bad(field, 'is not valid percent-encoding');
  return v;
}

export function readInteger(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

export function readIdempotencyKey(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 255)
    throw bad(field, 'must be a string of 1 to 255 characters');
  return v;
}

export interface WriteEnvelope {
  changes: Record<string, unknown>;
  version: number;
  modifiedBy: string;
  changeReason?: string;
}

/** The fields around `changes`; the changes themselves are judged by streams/validation. */
export function readWriteEnvelope(body: Record<string, unknown>, prefix = ''): WriteEnvelope {
  const errors: Array<{ field: string; message: string }> = [];
  const version = readInteger(body.version);
  if (version === undefined) errors.push({ field: `${prefix}version`, message: 'required, a non-negative integer' });
  if (typeof body.modifiedBy !== 'string' || body.modifiedBy.trim() === '') {
    errors.push({ field: `${prefix}modifiedBy`, message: 'required, a non-empty string' });
  }
  if (body.changeReason !== undefined && body.changeReason !== null && typeof body.changeReason !== 'string') {
    errors.push({ field: `${prefix}changeReason`, message: 'must be a string' });
  }
  if (body.changes === undefined)
    errors.push({ field: `${prefix}changes`, message: 'required, an object of field changes' });
  if (errors.length > 0) {
    throw new HttpError(400, {
      error: 'VALIDATION_FAILED',
      message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      fieldErrors: errors,
    });
  }
  return {
    changes: body.changes as Record<string, unknown>,
    version: version as number,
    modifiedBy: body.modifiedBy as string,
    changeReason: typeof body.changeReason === 'string' ? body.changeReason : undefined,
  };
}

/**
 * An answer given before the body was read: drain a reasonable body so keep-alive survives (the
 * client's next request would otherwise be parsed out of the leftovers), close on a huge one.
 */
export function discardBody(req: http.IncomingMessage): Record<string, string> {
  if (req.complete || req.readableEnded) return {};
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > 8 * 1024 * 1024) return { connection: 'close' };
  req.resume();
  return {};
}

/** Reads a JSON body; 413 past maxBody (drained so the client still reads the answer), 400 on bad JSON. */
export function readJsonBody(req: http.IncomingMessage, required: boolean, maxBody: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = declared > maxBody;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) tooLarge = true;
      if (tooLarge) {
        chunks.length = 0;
        if (size > maxBody * DRAIN_FACTOR) req.socket.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (tooLarge) {
        reject(new HttpError(413, { error: 'PAYLOAD_TOO_LARGE', message: `request body exceeds ${maxBody} bytes` }));
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') {
        if (required)
          reject(new HttpError(400, { error: 'VALIDATION_FAILED', message: 'a JSON request body is required' }));
        else resolve(undefined);
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        reject(
          new HttpError(400, {
            error: 'MALFORMED_JSON',
            message: `request body is not valid JSON: ${(e as Error).message}`,
          }),
        );
        return;
      }
      if (nestedDeeperThan(parsed, MAX_BODY_DEPTH)) {
        reject(
          new HttpError(400, {
            error: 'VALIDATION_FAILED',
            message: `request body is nested deeper than ${MAX_BODY_DEPTH} levels`,
          }),
        );
        return;
      }
      resolve(parsed);
    });
  });
}

export function requireObject(body: unknown): Record<string, unknown> {
  if (!isPlainObject(body))
    throw new HttpError(400, { error: 'VALIDATION_FAILED', message: 'request body must be a JSON object' });
  return body;
}

/** Writes a JSON answer and counts it (endpoint, status) in the simulator's stats. */
export type Send = (
  res: http.ServerResponse,
  endpoint: string,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
) => void;
