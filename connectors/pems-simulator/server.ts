/**
 * The PEMS simulator: the contract in schemas/openapi/pems-api.json served over node:https (node:http only
 * when asked), with a test-only control surface under /__control.
 *
 * No framework on purpose: the hot path (auth, bucket, parse, validate, write) is a handful of
 * synchronous steps, which is what lets one core serve thousands of PUTs per second.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import selfsigned from 'selfsigned';
import type { PfaRecord } from '../../streams/pfa-record';
import { isPlainObject } from '../../streams/validation';
import { errorCodeFor, FaultState, TokenBuckets, WindowCounter, type FaultConfig } from './faults';
import { makeRecords, PEMS_USERS } from './seed';
import { ListQueryError, PemsStore, type WriteOutcome } from './store';
import { decodePathSegment, MAX_BODY_DEPTH, nestedDeeperThan } from './request-guards';
import type { AppliedWrite, HoldSpec, WriteLogSnapshot } from './write-log';

export interface SimulatorCredential {
  apiKey: string;
  tenant: string;
  organization: string;
}

export interface PemsSimulatorOptions {
  /** One credential per organization. */
  credentials: SimulatorCredential[];
  /** TCP port; 0 picks a free one. Default 8443. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Serve plain http instead of https (local demos only). Default false. */
  http?: boolean;
  /** Enable the /__control surface. Default false. */
  testMode?: boolean;
  /** Requests per second per credential; 0 disables the limit. Default 10 (the contract). */
  rateLimitPerSecond?: number;
  /** Bucket size; default equals rateLimitPerSecond (contract: burst 10). */
  rateLimitBurst?: number;
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Records seeded per organization at start. Default 0. */
  seedPerOrganization?: number;
  /** Use this key and certificate instead of generating a self-signed pair. */
  tls?: { key: string; cert: string };
}

export interface SimulatorStats {
  /** endpoint ('PUT /pfa/{id}') -> status ('200', '429', 'reset', 'hung') -> count */
  requests: Record<string, Record<string, number>>;
  /** organization of the credential -> most requests seen in any one-second window */
  maxRequestsPerSecond: Record<string, number>;
  /** pfaId -> writes really applied through the API */
  writesApplied: Record<string, number>;
  idempotentReplays: number;
  rateLimited: number;
}

export interface SimulatorControl {
  seed(opts: { organization?: string; count: number; seed?: number }): string[];
  getRecord(pfaId: string): PfaRecord | undefined;
  /** Put a record exactly as given (tests that need precise values). */
  putRecord(record: PfaRecord): void;
  editAsPemsUser(pfaId: string, changes: Record<string, unknown>, user?: string): PfaRecord;
  childActivity(pfaId: string, count?: number): PfaRecord;
  setFaults(faults: FaultConfig): void;
  clearFaults(): void;
  stats(): SimulatorStats;
  /** Forget records, statistics, faults, idempotency keys and rate-limit buckets. */
  reset(): void;
  /** Every write applied through the API and every idempotent replay, per record (write-log.ts). */
  writeLog(): WriteLogSnapshot;
  /** Resolves with the next write applied to one of these records (any when absent). */
  nextWrite(pfaIds?: readonly string[]): Promise<AppliedWrite>;
  /** Delay the answer to a request that applied a write to these records (null: off). */
  holdAfterApply(spec: HoldSpec | null): void;
}

export interface PemsSimulator {
  /** Base URL of the API, e.g. https://127.0.0.1:8443/api/pems */
  url: string;
  port: number;
  /** PEM of the self-signed certificate (undefined over http): give it to the client as `ca`. */
  cert?: string;
  control: SimulatorControl;
  store: PemsStore;
  close(): Promise<void>;
}

export const BASE_PATH = '/api/pems';
const MAX_BATCH_ITEMS = 100;
const MAX_LIST_LIMIT = 500;
const DEFAULT_LIST_LIMIT = 100;
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

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message ?? body.error));
  }
}

function bad(field: string, message: string): HttpError {
  return new HttpError(400, { error: 'VALIDATION_FAILED', message: `${field}: ${message}`, fieldErrors: [{ field, message }] });
}

function endpointOf(method: string, segments: string[]): string {
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

function outcomeStatus(o: WriteOutcome): number {
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
function outcomeError(o: WriteOutcome): Record<string, unknown> | undefined {
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

const BATCH_STATUS: Record<WriteOutcome['kind'], string> = {
  updated: 'updated',
  not_found: 'not_found',
  forbidden: 'forbidden',
  conflict: 'conflict',
  invalid: 'invalid',
};

/** A path segment, percent-decoded; bad encoding is a 400 naming the field, not a 500. */
function decodeSegment(raw: string, field: string): string {
  const v = decodePathSegment(raw);
  if (v === undefined) throw bad(field, 'is not valid percent-encoding');
  return v;
}

function readInteger(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

function readIdempotencyKey(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 255) throw bad(field, 'must be a string of 1 to 255 characters');
  return v;
}

interface WriteEnvelope {
  changes: Record<string, unknown>;
  version: number;
  modifiedBy: string;
  changeReason?: string;
}

/** The fields around `changes`; the changes themselves are judged by streams/validation. */
function readWriteEnvelope(body: Record<string, unknown>, prefix = ''): WriteEnvelope {
  const errors: Array<{ field: string; message: string }> = [];
  const version = readInteger(body.version);
  if (version === undefined) errors.push({ field: `${prefix}version`, message: 'required, a non-negative integer' });
  if (typeof body.modifiedBy !== 'string' || body.modifiedBy.trim() === '') {
    errors.push({ field: `${prefix}modifiedBy`, message: 'required, a non-empty string' });
  }
  if (body.changeReason !== undefined && body.changeReason !== null && typeof body.changeReason !== 'string') {
    errors.push({ field: `${prefix}changeReason`, message: 'must be a string' });
  }
  if (body.changes === undefined) errors.push({ field: `${prefix}changes`, message: 'required, an object of field changes' });
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
function discardBody(req: http.IncomingMessage): Record<string, string> {
  if (req.complete || req.readableEnded) return {};
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > 8 * 1024 * 1024) return { connection: 'close' };
  req.resume();
  return {};
}

export async function startPemsSimulator(options: PemsSimulatorOptions): Promise<PemsSimulator> {
  const testMode = options.testMode ?? false;
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const rate = options.rateLimitPerSecond ?? 10;
  const byKey = new Map<string, SimulatorCredential>();
  for (const c of options.credentials) {
    if (!c.apiKey || !c.tenant || !c.organization) throw new Error('each simulator credential needs apiKey, tenant and organization');
    byKey.set(c.apiKey, c);
  }
  const organizations = [...new Set(options.credentials.map((c) => c.organization))];

  const store = new PemsStore();
  const faults = new FaultState();
  const buckets = new TokenBuckets(rate, options.rateLimitBurst ?? rate);
  const windows = new WindowCounter(1000);
  let requests: Record<string, Record<string, number>> = {};
  let rateLimited = 0;
  const nextId = new Map<string, number>();
  const hung = new Set<http.ServerResponse>();
  const sockets = new Set<Socket>();

  const count = (endpoint: string, status: string): void => {
    const e = (requests[endpoint] ??= {});
    e[status] = (e[status] ?? 0) + 1;
  };

  const seed = (opts: { organization?: string; count: number; seed?: number }): string[] => {
    const orgs = opts.organization ? [opts.organization] : organizations;
    const ids: string[] = [];
    for (const organization of orgs) {
      const startAt = nextId.get(organization) ?? 1;
      const recs = makeRecords({
        organization,
        count: opts.count,
        startAt,
        seed: opts.seed ?? startAt,
        updatedAt: () => store.stamp(),
      });
      nextId.set(organization, startAt + opts.count);
      for (const r of recs) {
        store.put(r);
        ids.push(r.pfaId);
      }
    }
    return ids;
  };

  const control: SimulatorControl = {
    seed,
    getRecord: (id) => store.get(id),
    putRecord: (r) => store.put(r),
    editAsPemsUser: (id, changes, user) =>
      store.editAsPemsUser(id, changes, user ?? PEMS_USERS[Math.floor(Math.random() * PEMS_USERS.length)] ?? 'jdoe'),
    childActivity: (id, n) => store.childActivity(id, n ?? 1),
    setFaults: (f) => faults.set(f),
    clearFaults: () => faults.clear(),
    stats: () => ({
      requests: structuredClone(requests),
      maxRequestsPerSecond: windows.maxByKey(),
      writesApplied: Object.fromEntries(store.writesApplied),
      idempotentReplays: store.idempotentReplays,
      rateLimited,
    }),
    writeLog: () => store.log.snapshot(),
    nextWrite: (ids) => store.log.nextWrite(ids),
    holdAfterApply: (spec) => store.log.setHold(spec),
    reset: () => {
      store.clear();
      faults.clear();
      buckets.clear();
      windows.clear();
      nextId.clear();
      requests = {};
      rateLimited = 0;
    },
  };

  if (options.seedPerOrganization) seed({ count: options.seedPerOrganization });

  const send = (res: http.ServerResponse, endpoint: string, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    count(endpoint, String(status));
    const payload = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
    res.end(payload);
  };

  /** Reads a JSON body; 413 past maxBody (drained so the client still reads the answer), 400 on bad JSON. */
  const readJson = (req: http.IncomingMessage, required: boolean): Promise<unknown> =>
    new Promise((resolve, reject) => {
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
          if (required) reject(new HttpError(400, { error: 'VALIDATION_FAILED', message: 'a JSON request body is required' }));
          else resolve(undefined);
          return;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (e) {
          reject(new HttpError(400, { error: 'MALFORMED_JSON', message: `request body is not valid JSON: ${(e as Error).message}` }));
          return;
        }
        if (nestedDeeperThan(parsed, MAX_BODY_DEPTH)) {
          reject(new HttpError(400, { error: 'VALIDATION_FAILED', message: `request body is nested deeper than ${MAX_BODY_DEPTH} levels` }));
          return;
        }
        resolve(parsed);
      });
    });

  const requireObject = (body: unknown): Record<string, unknown> => {
    if (!isPlainObject(body)) throw new HttpError(400, { error: 'VALIDATION_FAILED', message: 'request body must be a JSON object' });
    return body;
  };

  const checkOrganization = (cred: SimulatorCredential, organizationCode: unknown): void => {
    if (typeof organizationCode !== 'string' || organizationCode === '') throw bad('organizationCode', 'required, a string');
    if (organizationCode !== cred.organization) {
      throw new HttpError(403, { error: 'FORBIDDEN', message: `credential is not valid for organization ${organizationCode}` });
    }
  };

  const renderWrite = (res: http.ServerResponse, endpoint: string, o: WriteOutcome, replayed: boolean, del: boolean): void => {
    const headers: Record<string, string> = replayed ? { 'idempotent-replayed': 'true' } : {};
    if (o.kind === 'updated') {
      const body = del ? { newVersion: o.newVersion } : { success: true, pfaId: o.pfaId, newVersion: o.newVersion, updatedAt: o.updatedAt };
      send(res, endpoint, 200, body, headers);
      return;
    }
    send(res, endpoint, outcomeStatus(o), outcomeError(o), headers);
  };

  /** Test-only hold (write-log.ts): the write is applied, its answer waits. */
  const held = async (appliedPfaIds: readonly string[]): Promise<void> => {
    const ms = store.log.holdFor(appliedPfaIds);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  };

  async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, url: URL, endpoint: string, segments: string[], cred: SimulatorCredential): Promise<void> {
    const pfaId = segments[1] !== undefined ? decodeSegment(segments[1], 'pfaId') : '';
    const receivedAt = new Date().toISOString();
    switch (endpoint) {
      case 'GET /health':
        send(res, endpoint, 200, { status: 'UP', records: store.size });
        return;
      case 'GET /pfa/{id}': {
        const r = store.get(pfaId);
        if (!r) throw new HttpError(404, { error: 'NOT_FOUND', message: `no PFA record ${pfaId}` });
        // Another organization's record is answered like an unknown one: no existence oracle.
        if (r.organization !== cred.organization) throw new HttpError(404, { error: 'NOT_FOUND', message: `no PFA record ${pfaId}` });
        send(res, endpoint, 200, r);
        return;
      }
      case 'GET /pfa': {
        const q = url.searchParams;
        const org = q.get('organization') ?? cred.organization;
        if (org !== cred.organization) throw new HttpError(403, { error: 'FORBIDDEN', message: `credential is not valid for organization ${org}` });
        let since: string | undefined;
        const sinceRaw = q.get('updatedSince');
        if (sinceRaw !== null) {
          const t = Date.parse(sinceRaw);
          if (!/^\d{4}-\d{2}-\d{2}/.test(sinceRaw) || Number.isNaN(t)) throw bad('updatedSince', 'must be an ISO-8601 timestamp');
          since = new Date(t).toISOString();
        }
        let limit = DEFAULT_LIST_LIMIT;
        const limitRaw = q.get('limit');
        if (limitRaw !== null) {
          limit = Number(limitRaw);
          if (!/^\d+$/.test(limitRaw) || limit < 1 || limit > MAX_LIST_LIMIT) throw bad('limit', `must be an integer from 1 to ${MAX_LIST_LIMIT}`);
        }
        try {
          send(res, endpoint, 200, store.list(org, since, q.get('cursor') ?? undefined, limit));
        } catch (e) {
          if (e instanceof ListQueryError) throw bad('cursor', e.message);
          throw e;
        }
        return;
      }
      case 'PUT /pfa/{id}': {
        const key = readIdempotencyKey(req.headers['idempotency-key'], 'Idempotency-Key');
        const body = requireObject(await readJson(req, true));
        checkOrganization(cred, body.organizationCode);
        const env = readWriteEnvelope(body);
        const from = store.log.mark();
        const { outcome, replayed } = store.update({ pfaId, organization: cred.organization, ...env }, key);
        const to = store.log.mark();
        await held(outcome.kind === 'updated' && !replayed ? [pfaId] : []);
        renderWrite(res, endpoint, outcome, replayed, false);
        store.log.answered(from, to, receivedAt);
        return;
      }
      case 'DELETE /pfa/{id}': {
        const key = readIdempotencyKey(req.headers['idempotency-key'], 'Idempotency-Key');
        const versionRaw = url.searchParams.get('version');
        if (versionRaw === null || !/^\d+$/.test(versionRaw)) throw bad('version', 'query parameter required, a non-negative integer');
        const body = requireObject(await readJson(req, true));
        if (typeof body.modifiedBy !== 'string' || body.modifiedBy.trim() === '') throw bad('modifiedBy', 'required, a non-empty string');
        if (body.reason !== undefined && typeof body.reason !== 'string') throw bad('reason', 'must be a string');
        const { outcome, replayed } = store.softDelete(
          { pfaId, organization: cred.organization, version: Number(versionRaw), modifiedBy: body.modifiedBy, reason: body.reason as string | undefined },
          key,
        );
        await held(outcome.kind === 'updated' && !replayed ? [pfaId] : []);
        renderWrite(res, endpoint, outcome, replayed, true);
        return;
      }
      case 'POST /pfa/batch': {
        const body = requireObject(await readJson(req, true));
        checkOrganization(cred, body.organizationCode);
        if (!Array.isArray(body.items)) throw bad('items', 'required, an array');
        if (body.items.length > MAX_BATCH_ITEMS) {
          throw new HttpError(413, { error: 'BATCH_TOO_LARGE', message: `a batch holds at most ${MAX_BATCH_ITEMS} items, got ${body.items.length}` });
        }
        const applied: string[] = [];
        const from = store.log.mark();
        const results = (body.items as unknown[]).map((item, i) => batchItem(item, i, cred, applied));
        const to = store.log.mark();
        await held(applied);
        send(res, endpoint, 200, { results });
        store.log.answered(from, to, receivedAt);
        return;
      }
      default:
        throw new HttpError(404, { error: 'NOT_FOUND', message: `no endpoint ${req.method} ${url.pathname}` });
    }
  }

  /** Each item stands alone: its own validation, idempotency and outcome (contract: not atomic). */
  function batchItem(item: unknown, i: number, cred: SimulatorCredential, applied: string[]): Record<string, unknown> {
    const pfaId = isPlainObject(item) && typeof item.pfaId === 'string' ? item.pfaId : '';
    try {
      if (!isPlainObject(item)) throw bad(`items[${i}]`, 'must be an object');
      if (pfaId === '') throw bad(`items[${i}].pfaId`, 'required, a string');
      const key = readIdempotencyKey(item.idempotencyKey, `items[${i}].idempotencyKey`);
      const env = readWriteEnvelope(item, `items[${i}].`);
      const { outcome, replayed } = store.update({ pfaId, organization: cred.organization, ...env }, key);
      if (outcome.kind === 'updated' && !replayed) applied.push(pfaId);
      const result: Record<string, unknown> = { pfaId, status: BATCH_STATUS[outcome.kind] };
      if (outcome.kind === 'updated') result.newVersion = outcome.newVersion;
      else result.error = outcomeError(outcome);
      return result;
    } catch (e) {
      if (e instanceof HttpError) return { pfaId, status: 'invalid', error: e.body };
      throw e;
    }
  }

  async function handleControl(req: http.IncomingMessage, res: http.ServerResponse, segments: string[]): Promise<void> {
    const ep = 'control';
    const method = req.method ?? 'GET';
    const [a, b, c] = segments;
    const body = method === 'GET' || method === 'DELETE' ? undefined : await readJson(req, false);
    const obj = (body ?? {}) as Record<string, unknown>;
    if (body !== undefined && !isPlainObject(body)) throw new HttpError(400, { error: 'VALIDATION_FAILED', message: 'body must be a JSON object' });
    if (a === 'stats' && method === 'GET') return send(res, ep, 200, control.stats());
    if (a === 'writes' && method === 'GET') return send(res, ep, 200, control.writeLog());
    if (a === 'reset' && method === 'POST') {
      control.reset();
      return send(res, ep, 200, { reset: true });
    }
    if (a === 'seed' && method === 'POST') {
      const n = readInteger(obj.count);
      if (n === undefined || n > 100_000) throw bad('count', 'required, an integer from 0 to 100000');
      const org = obj.organization === undefined ? undefined : String(obj.organization);
      return send(res, ep, 200, { pfaIds: control.seed({ organization: org, count: n, seed: readInteger(obj.seed) }) });
    }
    if (a === 'faults' && (method === 'PUT' || method === 'POST')) {
      try {
        control.setFaults(obj as FaultConfig);
      } catch (e) {
        throw new HttpError(400, { error: 'VALIDATION_FAILED', message: (e as Error).message });
      }
      return send(res, ep, 200, { faults: faults.current });
    }
    if (a === 'faults' && method === 'DELETE') {
      control.clearFaults();
      return send(res, ep, 200, { faults: {} });
    }
    if (a === 'records' && b !== undefined) {
      const id = decodeSegment(b, 'pfaId');
      const existing = store.get(id);
      if (!existing) throw new HttpError(404, { error: 'NOT_FOUND', message: `no PFA record ${id}` });
      if (c === undefined && method === 'GET') return send(res, ep, 200, existing);
      if (c === 'edit' && method === 'POST') {
        if (!isPlainObject(obj.changes)) throw bad('changes', 'required, an object');
        return send(res, ep, 200, control.editAsPemsUser(id, obj.changes, typeof obj.user === 'string' ? obj.user : undefined));
      }
      if (c === 'child-activity' && method === 'POST') {
        return send(res, ep, 200, control.childActivity(id, readInteger(obj.count) ?? 1));
      }
    }
    throw new HttpError(404, { error: 'NOT_FOUND', message: `no control endpoint ${method} /__control/${segments.join('/')}` });
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const arrived = performance.now();
    let endpoint = 'unknown';
    const fail = (e: unknown): void => {
      if (res.headersSent || res.destroyed) return;
      if (e instanceof HttpError) {
        send(res, endpoint, e.status, e.body, discardBody(req));
      } else {
        send(res, endpoint, 500, { error: 'INTERNAL', message: 'simulator error' });
      }
    };
    try {
      const url = new URL(req.url ?? '/', 'http://simulator');
      const method = req.method ?? 'GET';
      if (testMode && (url.pathname === '/__control' || url.pathname.startsWith('/__control/'))) {
        endpoint = 'control';
        const segs = url.pathname.slice('/__control'.length).split('/').filter(Boolean);
        handleControl(req, res, segs).catch(fail);
        return;
      }
      if (url.pathname !== BASE_PATH && !url.pathname.startsWith(`${BASE_PATH}/`)) {
        throw new HttpError(404, { error: 'NOT_FOUND', message: `no endpoint ${method} ${url.pathname}` });
      }
      const segments = url.pathname.slice(BASE_PATH.length).split('/').filter(Boolean);
      endpoint = endpointOf(method, segments);

      const auth = req.headers.authorization;
      const apiKey = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
      const cred = apiKey === undefined ? undefined : byKey.get(apiKey);
      // Every request a credential sends is seen, whatever its fate: this is what PEMS ops watch.
      if (cred) windows.hit(cred.organization, arrived);

      const fault = faults.decide(endpoint);
      const proceed = (): void => {
        if (fault.action === 'reset') {
          count(endpoint, 'reset');
          req.socket.destroy();
          return;
        }
        if (fault.action === 'hang') {
          count(endpoint, 'hung');
          hung.add(res);
          res.on('close', () => hung.delete(res));
          return;
        }
        if (fault.action === 'error') {
          if (fault.status === 429) {
            // An injected 429 looks like the real one: RATE_LIMITED with a Retry-After (seconds).
            throw Object.assign(new HttpError(429, { error: 'RATE_LIMITED', message: 'injected 429' }), { retryAfter: 1 });
          }
          throw new HttpError(fault.status, { error: errorCodeFor(fault.status), message: `injected ${fault.status}` });
        }
        if (endpoint === 'GET /health' && !cred) {
          send(res, endpoint, 200, { status: 'UP' });
          return;
        }
        if (!cred) throw new HttpError(401, { error: 'UNAUTHORIZED', message: 'missing or unknown bearer credential' });
        if (req.headers.tenant !== cred.tenant || req.headers.organization !== cred.organization) {
          throw new HttpError(401, { error: 'UNAUTHORIZED', message: 'tenant and organization headers must match the credential' });
        }
        const waitMs = buckets.take(cred.organization, arrived);
        if (waitMs > 0) {
          rateLimited += 1;
          throw Object.assign(new HttpError(429, { error: 'RATE_LIMITED', message: 'more than the allowed requests per second' }), {
            retryAfter: Math.max(1, Math.ceil(waitMs / 1000)),
          });
        }
        handleApi(req, res, url, endpoint, segments, cred).catch(fail);
      };
      const run = (): void => {
        try {
          proceed();
        } catch (e) {
          if (e instanceof HttpError && e.status === 429) {
            const retryAfter = (e as HttpError & { retryAfter?: number }).retryAfter ?? 1;
            if (!res.headersSent) send(res, endpoint, 429, e.body, { 'retry-after': String(retryAfter), ...discardBody(req) });
            return;
          }
          fail(e);
        }
      };
      if (fault.delayMs > 0) setTimeout(run, fault.delayMs);
      else run();
    } catch (e) {
      fail(e);
    }
  };

  const tlsPair = options.http ? undefined : (options.tls ?? selfSignedCert());
  const server: http.Server = tlsPair ? https.createServer({ key: tlsPair.key, cert: tlsPair.cert }, onRequest) : http.createServer(onRequest);
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // A bad TLS handshake or garbage bytes must never take the process down.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.on('tlsClientError', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8443, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8443);
  const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : '127.0.0.1';

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      for (const r of hung) r.destroy();
      server.close(() => resolve());
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
    });
    return closing;
  };

  return {
    url: `${tlsPair ? 'https' : 'http'}://${host}:${port}${BASE_PATH}`,
    port,
    cert: tlsPair?.cert,
    control,
    store,
    close,
  };
}
