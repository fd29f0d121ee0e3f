/**
 * The simulator's PEMS API handlers (schemas/openapi/pems-api.json): health, read one, list
 * changed records, update, soft delete and the non-atomic batch, over the store. The request is
 * already authenticated and within the rate limit (server.ts).
 */
import type http from 'node:http';
import { isPlainObject } from '../../streams/validation';
import {
  bad,
  BATCH_STATUS,
  decodeSegment,
  DEFAULT_LIST_LIMIT,
  HttpError,
  MAX_BATCH_ITEMS,
  MAX_LIST_LIMIT,
  outcomeError,
  outcomeStatus,
  readIdempotencyKey,
  readWriteEnvelope,
  requireObject,
  type Send,
} from './http';
import { ListQueryError, type PemsStore, type WriteOutcome } from './store';
import type { SimulatorCredential } from './types';

export interface ApiDeps {
  store: PemsStore;
  send: Send;
  readJson(req: http.IncomingMessage, required: boolean): Promise<unknown>;
}

export type ApiHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  endpoint: string,
  segments: string[],
  cred: SimulatorCredential,
) => Promise<void>;

function checkOrganization(cred: SimulatorCredential, organizationCode: unknown): void {
  if (typeof organizationCode !== 'string' || organizationCode === '')
    throw bad('organizationCode', 'required, a string');
  if (organizationCode !== cred.organization) {
    throw new HttpError(403, {
      error: 'FORBIDDEN',
      message: `credential is not valid for organization ${organizationCode}`,
    });
  }
}

export function createApiHandler({ store, send, readJson }: ApiDeps): ApiHandler {
  const renderWrite = (
    res: http.ServerResponse,
    endpoint: string,
    o: WriteOutcome,
    replayed: boolean,
    del: boolean,
  ): void => {
    const headers: Record<string, string> = replayed ? { 'idempotent-replayed': 'true' } : {};
    if (o.kind === 'updated') {
      const body = del
        ? { newVersion: o.newVersion }
        : { success: true, pfaId: o.pfaId, newVersion: o.newVersion, updatedAt: o.updatedAt };
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

  async function handleApi(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    endpoint: string,
    segments: string[],
    cred: SimulatorCredential,
  ): Promise<void> {
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
        if (r.organization !== cred.organization)
          throw new HttpError(404, { error: 'NOT_FOUND', message: `no PFA record ${pfaId}` });
        send(res, endpoint, 200, r);
        return;
      }
      case 'GET /pfa': {
        const q = url.searchParams;
        const org = q.get('organization') ?? cred.organization;
        if (org !== cred.organization)
          throw new HttpError(403, { error: 'FORBIDDEN', message: `credential is not valid for organization ${org}` });
        let since: string | undefined;
        const sinceRaw = q.get('updatedSince');
        if (sinceRaw !== null) {
          const t = Date.parse(sinceRaw);
          if (!/^\d{4}-\d{2}-\d{2}/.test(sinceRaw) || Number.isNaN(t))
            throw bad('updatedSince', 'must be an ISO-8601 timestamp');
          since = new Date(t).toISOString();
        }
        let limit = DEFAULT_LIST_LIMIT;
        const limitRaw = q.get('limit');
        if (limitRaw !== null) {
          limit = Number(limitRaw);
          if (!/^\d+$/.test(limitRaw) || limit < 1 || limit > MAX_LIST_LIMIT)
            throw bad('limit', `must be an integer from 1 to ${MAX_LIST_LIMIT}`);
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
        if (versionRaw === null || !/^\d+$/.test(versionRaw))
          throw bad('version', 'query parameter required, a non-negative integer');
        const body = requireObject(await readJson(req, true));
        if (typeof body.modifiedBy !== 'string' || body.modifiedBy.trim() === '')
          throw bad('modifiedBy', 'required, a non-empty string');
        if (body.reason !== undefined && typeof body.reason !== 'string') throw bad('reason', 'must be a string');
        const { outcome, replayed } = store.softDelete(
          {
            pfaId,
            organization: cred.organization,
            version: Number(versionRaw),
            modifiedBy: body.modifiedBy,
            reason: body.reason as string | undefined,
          },
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
          throw new HttpError(413, {
            error: 'BATCH_TOO_LARGE',
            message: `a batch holds at most ${MAX_BATCH_ITEMS} items, got ${body.items.length}`,
          });
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

  return handleApi;
}
