/**
 * Decodes one Debezium change event of `pfa_modification` into work, a skip, or poison.
 *
 * Wire format (connectors/debezium config): Debezium Postgres connector 3.3, pgoutput,
 * JsonConverter with `schemas.enable=false` for key and value, `message.key.columns` set to
 * (organization_id, pfa_id); the publication carries only rows whose sync_status is 'committed'
 * and the replica identity is (id, organization_id, pfa_id, sync_status) (migration 009). So a
 * transition into committed arrives as op c with the full row, the claim committed → syncing as
 * op d whose `before` has those four columns, later status writes not at all, and an update
 * of a row that stays committed as op u with `before` null. Consequences relied on below:
 * - the value is the bare envelope {before, after, source, op, ts_ms, transaction};
 * - jsonb columns arrive as a JSON *string* (semantic type io.debezium.data.Json);
 * - timestamptz arrives as an ISO-8601 string (io.debezium.time.ZonedTimestamp);
 * - a delete is followed by a tombstone (value null) when `tombstones.on.delete=true`
 *   (the default), so log compaction can drop the key;
 * - op is c (insert), u (update), d (delete), r (snapshot read), t (truncate); Debezium also
 *   has m (logical decoding message) but those go to their own topic, so here it is poison.
 *
 * Pure: no I/O; returns plain data. The edge dead-letters poison and resolves skips at once.
 */
import {
  CdcPosition,
  CdcSource,
  Delta,
  MODIFICATION_OPERATIONS,
  Modification,
  ModificationOperation,
  SYNC_STATUSES,
  SyncStatus,
} from './modification';

export interface ChangeEventInput {
  key: Buffer | string | null;
  value: Buffer | string | null;
  topic: string;
  partition: number;
  offset: string;
  /** kafkajs IHeaders shape. Only `traceparent` is read (W3C trace context). */
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export interface DecodeOptions {
  /** Largest accepted delta, in bytes of its UTF-8 JSON text. Default 1 MiB (1_048_576). */
  maxDeltaBytes?: number;
}

export const DEFAULT_MAX_DELTA_BYTES = 1_048_576;

export type SkipReason = 'tombstone' | 'truncate' | 'delete' | 'not_committed' | 'already_committed';

export type DecodedEvent =
  | {
      kind: 'work';
      modification: Modification;
      position: CdcPosition;
      source: CdcSource;
      /** 32-hex trace id from a `traceparent` header, when one is present and well formed. */
      traceId: string | null;
    }
  | { kind: 'skip'; reason: SkipReason; detail: string; position: CdcPosition }
  | {
      kind: 'poison';
      reason: string;
      position: CdcPosition;
      /** What could still be read: the key's organization_id and the value's after.id (a uuid), else null. */
      organizationId: string | null;
      modificationId: string | null;
    };

const KNOWN_OPS = new Set(['c', 'u', 'd', 'r', 't']);
const STATUSES: ReadonlySet<string> = new Set(SYNC_STATUSES);
const OPERATIONS: ReadonlySet<string> = new Set(MODIFICATION_OPERATIONS);

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Thrown inside this module only, turned into a poison result by decodeChangeEvent. */
class Poison {
  constructor(readonly reason: string) {}
}

function parseJson(raw: Buffer | string, what: string): unknown {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Poison(`${what} is not valid JSON`);
  }
}

/**
 * With `schemas.enable=true` JsonConverter wraps every message as {schema, payload}. The deployed
 * config disables that, but a misconfigured connector should not dead-letter every edit: unwrap.
 */
function unwrapSchemaEnvelope(v: unknown): unknown {
  if (isObject(v) && 'payload' in v && 'schema' in v && Object.keys(v).length === 2) return v.payload;
  return v;
}

export function decodeChangeEvent(input: ChangeEventInput, opts: DecodeOptions = {}): DecodedEvent {
  const position: CdcPosition = { topic: input.topic, partition: input.partition, offset: input.offset };
  const maxDeltaBytes = opts.maxDeltaBytes ?? DEFAULT_MAX_DELTA_BYTES;
  try {
    return decode(input, position, maxDeltaBytes);
  } catch (e) {
    if (e instanceof Poison) {
      return {
        kind: 'poison',
        reason: e.reason,
        position,
        organizationId: organizationIdOf(input.key),
        modificationId: modificationIdOf(input.value),
      };
    }
    throw e; // a bug in this module: let the edge classify it (retry.classify → 'bug')
  }
}

function readJson(raw: Buffer | string | null | undefined): unknown {
  if (raw === null || raw === undefined) return null;
  try {
    return JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

/** The organization a poison event's key names, when the key is readable JSON. */
function organizationIdOf(key: Buffer | string | null): string | null {
  const k = readJson(key);
  return isObject(k) && typeof k.organization_id === 'string' ? k.organization_id : null;
}

const UUID = /^[0-9a-f-]{36}$/i;

/** after.id of a poison event, when the value is readable JSON and the id looks like a uuid. */
function modificationIdOf(value: Buffer | string | null): string | null {
  const v = readJson(value);
  const after = isObject(v) ? v.after : undefined;
  const id = isObject(after) ? after.id : undefined;
  return typeof id === 'string' && UUID.test(id) ? id : null;
}

function decode(input: ChangeEventInput, position: CdcPosition, maxDeltaBytes: number): DecodedEvent {
  // Kafka tombstone: the value is null. Debezium emits one after each delete (tombstones.on.delete).
  if (input.value === null || input.value === undefined) {
    return { kind: 'skip', reason: 'tombstone', detail: 'tombstone after a delete', position };
  }
  const envelope = unwrapSchemaEnvelope(parseJson(input.value, 'value'));
  if (!isObject(envelope)) throw new Poison('value is not a JSON object');

  const op = envelope.op;
  if (typeof op !== 'string') throw new Poison('value has no op');
  if (!KNOWN_OPS.has(op)) throw new Poison(`unknown op '${op}'`);
  if (op === 't') return { kind: 'skip', reason: 'truncate', detail: 'table truncated', position };
  if (op === 'd') return { kind: 'skip', reason: 'delete', detail: 'modification row deleted', position };

  const after = envelope.after;
  if (!isObject(after)) throw new Poison(`op '${op}' without an after row`);
  const before = envelope.before;
  if (before !== null && before !== undefined && !isObject(before)) throw new Poison('before is not an object');

  // Decide relevance on sync_status first: rows that are not work (drafts, the statuses the
  // connector writes itself) are skipped without full validation, so the dead-letter topic only
  // holds events that would have been writes. The edge re-checks the DB status before writing.
  const afterStatus = status(after.sync_status, 'after.sync_status');
  if (afterStatus !== 'committed') {
    return { kind: 'skip', reason: 'not_committed', detail: `sync_status is '${afterStatus}'`, position };
  }
  if (op === 'u' && isObject(before)) {
    // `before` is present when the status changed (it is part of the replica identity), or
    // with REPLICA IDENTITY FULL (before migration 009). Without it we cannot tell a transition
    // from a no-op update: treat it as work (the edge re-checks the status when it claims).
    const beforeStatus = status(before.sync_status, 'before.sync_status');
    if (beforeStatus === 'committed') {
      return { kind: 'skip', reason: 'already_committed', detail: 'update of an already committed row', position };
    }
  }

  const modification = toModification(after, maxDeltaBytes);
  checkKey(input.key, modification);
  return {
    kind: 'work',
    modification,
    position,
    source: readSource(envelope.source),
    traceId: traceIdFrom(input.headers),
  };
}

function status(v: unknown, where: string): SyncStatus {
  if (typeof v !== 'string') throw new Poison(`${where} missing or not a string`);
  if (!STATUSES.has(v)) throw new Poison(`${where} '${v}' is not a known status`);
  return v as SyncStatus;
}

function str(row: Json, col: string): string {
  const v = row[col];
  if (typeof v !== 'string' || v.length === 0) throw new Poison(`after.${col} missing or not a non-empty string`);
  return v;
}

function optStr(row: Json, col: string): string | null {
  const v = row[col];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new Poison(`after.${col} is not a string`);
  return v;
}

function int(row: Json, col: string, min: number): number {
  const v = row[col];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new Poison(`after.${col} missing or not an integer >= ${min}`);
  }
  return v;
}

function optInt(row: Json, col: string, min: number): number | null {
  const v = row[col];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new Poison(`after.${col} is not an integer >= ${min}`);
  return v;
}

function optTimestamp(row: Json, col: string): string | null {
  const v = optStr(row, col);
  if (v !== null && Number.isNaN(Date.parse(v))) throw new Poison(`after.${col} is not an ISO-8601 timestamp`);
  return v;
}

/**
 * io.debezium.data.Json arrives as a string. An already-parsed object is accepted too (a
 * converter or SMT may have expanded it); anything else is poison. The size limit is checked on
 * the text before parsing so a huge delta costs no parse.
 */
function delta(row: Json, maxBytes: number): Delta {
  const v = row.delta;
  let text: string;
  if (typeof v === 'string') text = v;
  else if (isObject(v)) text = JSON.stringify(v);
  else throw new Poison('after.delta missing or not a JSON string');
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) throw new Poison(`after.delta is ${bytes} bytes, over the ${maxBytes} byte limit`);
  const parsed = typeof v === 'string' ? parseJson(v, 'after.delta') : v;
  if (!isObject(parsed)) throw new Poison('after.delta is not a JSON object');
  return parsed;
}

function optJson(row: Json, col: string): unknown {
  const v = row[col];
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return parseJson(v, `after.${col}`);
  return v;
}

function toModification(after: Json, maxDeltaBytes: number): Modification {
  const operation = after.operation;
  if (typeof operation !== 'string' || !OPERATIONS.has(operation)) {
    throw new Poison(`after.operation '${String(operation)}' is not update or delete`);
  }
  return {
    id: str(after, 'id'),
    organizationId: str(after, 'organization_id'),
    pfaId: str(after, 'pfa_id'),
    userId: str(after, 'user_id'),
    operation: operation as ModificationOperation,
    delta: delta(after, maxDeltaBytes),
    baseVersion: int(after, 'base_version', 0),
    changeReason: optStr(after, 'change_reason'),
    syncStatus: status(after.sync_status, 'after.sync_status'),
    syncError: optJson(after, 'sync_error'),
    pemsVersionAfter: optInt(after, 'pems_version_after', 0),
    attempts: optInt(after, 'attempts', 0) ?? 0,
    committedAt: optTimestamp(after, 'committed_at'),
    syncedAt: optTimestamp(after, 'synced_at'),
    createdAt: optTimestamp(after, 'created_at'),
    updatedAt: optTimestamp(after, 'updated_at'),
    supersedesId: optStr(after, 'supersedes_id'),
  };
}

/**
 * The key (message.key.columns = organization_id, pfa_id) decides the partition and so the
 * per-PFA order. A key that disagrees with the row would put this PFA's edits on two partitions
 * and break ordering: poison, never guess.
 */
function checkKey(raw: Buffer | string | null, m: Modification): void {
  if (raw === null || raw === undefined) throw new Poison('key missing');
  const key = unwrapSchemaEnvelope(parseJson(raw, 'key'));
  if (!isObject(key)) throw new Poison('key is not a JSON object');
  if (key.organization_id !== m.organizationId || key.pfa_id !== m.pfaId) {
    throw new Poison(
      `key (${String(key.organization_id)}, ${String(key.pfa_id)}) does not match after row (${m.organizationId}, ${m.pfaId})`,
    );
  }
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function readSource(v: unknown): CdcSource {
  if (!isObject(v)) return { lsn: null, txId: null, tsMs: null };
  return { lsn: num(v.lsn), txId: num(v.txId), tsMs: num(v.ts_ms) };
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

function traceIdFrom(headers: ChangeEventInput['headers']): string | null {
  const h = headers?.traceparent;
  const first = Array.isArray(h) ? h[0] : h;
  if (first === undefined) return null;
  const text = typeof first === 'string' ? first : first.toString('utf8');
  const m = TRACEPARENT.exec(text.trim());
  const id = m?.[1];
  // W3C trace context: an all-zero trace id is invalid.
  return id !== undefined && !/^0+$/.test(id) ? id : null;
}
