/**
 * Dead letters as people handle them. Replay puts the work back into the pipeline:
 * - with a modification id: that modification goes back to `committed` (from failed or
 *   rejected). Same row, same id, so the PEMS idempotency key derived from it is kept, and
 *   Debezium emits the transition into committed again (the publication's row filter turns it into
 *   an insert event, schemas/migrations/009_capture_bounds.ts);
 * - without one (a poison event the sink could not even decode): the original key, value and
 *   headers are produced again to the CDC topic by the caller's `produce`.
 * Both mark the dead letter replayed and audit it, in one transaction with the row locked, so
 * two people replaying at once replay once.
 */
import type { Knex } from 'knex';
import { appendAudit } from './audit';
import { ActionRefusedError } from './conflicts';

/** A dead letter as lists show it: what happened and how big the record is, never the record. */
export interface DeadLetterSummary {
  id: string;
  organizationId: string | null;
  pfaId: string | null;
  modificationId: string | null;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  /** Sizes of the original key and value, bytes (null when absent). */
  recordKeyBytes: number | null;
  recordValueBytes: number | null;
  reason: string;
  errorCode: string;
  error: unknown;
  status: string;
  resolvedBy: string | null;
  resolvedAt: string | null;
  resolutionReason: string | null;
  createdAt: string;
  /** The modification's current state, when there is one. */
  modification: { syncStatus: string; attempts: number; userId: string } | null;
}

/**
 * One dead letter with its record, each part at most `maxBytes` (the detail endpoint's cap):
 * as UTF-8 text when the kept bytes are valid UTF-8, otherwise as base64 — one form, not both.
 */
export interface DeadLetterRow extends DeadLetterSummary {
  recordKey: string | null;
  recordValue: string | null;
  recordKeyBase64: string | null;
  recordValueBase64: string | null;
  /** True when the part is longer than the cap and only its first bytes are here. */
  recordKeyTruncated: boolean;
  recordValueTruncated: boolean;
  recordHeaders: unknown;
}

/** Text when `b` is valid UTF-8 (a cut in the middle of a character counts as invalid), else null. */
function utf8(b: Buffer): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return null;
  }
}

function toSummary(r: Record<string, any>): DeadLetterSummary {
  return {
    id: r.id,
    organizationId: r.organization_id,
    pfaId: r.pfa_id,
    modificationId: r.modification_id,
    sourceTopic: r.source_topic,
    sourcePartition: Number(r.source_partition),
    sourceOffset: String(r.source_offset),
    recordKeyBytes: r.key_bytes === null || r.key_bytes === undefined ? null : Number(r.key_bytes),
    recordValueBytes: r.value_bytes === null || r.value_bytes === undefined ? null : Number(r.value_bytes),
    reason: r.reason,
    errorCode: r.error_code,
    error: r.error,
    status: r.status,
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolved_at ? new Date(r.resolved_at).toISOString() : null,
    resolutionReason: r.resolution_reason,
    createdAt: new Date(r.created_at).toISOString(),
    modification: r.m_sync_status
      ? { syncStatus: r.m_sync_status, attempts: Number(r.m_attempts), userId: r.m_user_id }
      : null,
  };
}

function part(
  b: Buffer | null,
  total: number | null,
): { text: string | null; base64: string | null; truncated: boolean } {
  if (b === null) return { text: null, base64: null, truncated: false };
  const text = utf8(b);
  return { text, base64: text === null ? b.toString('base64') : null, truncated: total !== null && total > b.length };
}

function toDeadLetter(r: Record<string, any>): DeadLetterRow {
  const summary = toSummary(r);
  const key = part(r.record_key, summary.recordKeyBytes);
  const value = part(r.record_value, summary.recordValueBytes);
  return {
    ...summary,
    recordKey: key.text,
    recordValue: value.text,
    recordKeyBase64: key.base64,
    recordValueBase64: value.base64,
    recordKeyTruncated: key.truncated,
    recordValueTruncated: value.truncated,
    recordHeaders: r.record_headers,
  };
}

const SUMMARY_COLUMNS = [
  'd.id',
  'd.organization_id',
  'd.pfa_id',
  'd.modification_id',
  'd.source_topic',
  'd.source_partition',
  'd.source_offset',
  'd.reason',
  'd.error_code',
  'd.error',
  'd.status',
  'd.resolved_by',
  'd.resolved_at',
  'd.resolution_reason',
  'd.created_at',
];

/** Never the record's bytes: only their sizes (octet_length reads no TOAST beyond the header). */
function deadLetterQuery(db: Knex | Knex.Transaction): Knex.QueryBuilder {
  return db('dead_letter as d')
    .leftJoin('pfa_modification as m', 'm.id', 'd.modification_id')
    .select(...SUMMARY_COLUMNS, 'm.sync_status as m_sync_status', 'm.attempts as m_attempts', 'm.user_id as m_user_id')
    .select(db.raw('octet_length(d.record_key) AS key_bytes'), db.raw('octet_length(d.record_value) AS value_bytes'));
}

export async function listDeadLetters(
  db: Knex,
  f: {
    organizationIds: readonly string[];
    status?: string;
    pfaId?: string;
    errorCode?: string;
    limit: number;
    after?: { t: string; id: string };
  },
): Promise<DeadLetterSummary[]> {
  // Dead letters whose organization is unknown (organization_id null) are not listed: scoping
  // cannot place them, and showing them to every caller could leak another organization's data.
  const q = deadLetterQuery(db).whereIn('d.organization_id', [...f.organizationIds]);
  if (f.status) q.where('d.status', f.status);
  if (f.pfaId) q.where('d.pfa_id', f.pfaId);
  if (f.errorCode) q.where('d.error_code', f.errorCode);
  if (f.after) q.whereRaw('(d.created_at, d.id) < (?::timestamptz, ?::uuid)', [f.after.t, f.after.id]);
  const rows = await q
    .orderBy([
      { column: 'd.created_at', order: 'desc' },
      { column: 'd.id', order: 'desc' },
    ])
    .limit(f.limit);
  return rows.map(toSummary);
}

/** The dead letter's metadata (no record bytes); what the action routes need. */
export async function getDeadLetterSummary(
  db: Knex | Knex.Transaction,
  organizationIds: readonly string[],
  id: string,
): Promise<DeadLetterSummary | null> {
  const row = await deadLetterQuery(db)
    .where('d.id', id)
    .whereIn('d.organization_id', [...organizationIds])
    .first();
  return row ? toSummary(row) : null;
}

/** One dead letter with the first `maxBytes` of its key and of its value (substring in SQL: the rest is never read). */
export async function getDeadLetter(
  db: Knex | Knex.Transaction,
  organizationIds: readonly string[],
  id: string,
  maxBytes: number,
): Promise<DeadLetterRow | null> {
  const row = await deadLetterQuery(db)
    .select(
      db.raw('substring(d.record_key FROM 1 FOR ?::int) AS record_key', [maxBytes]),
      db.raw('substring(d.record_value FROM 1 FOR ?::int) AS record_value', [maxBytes]),
      'd.record_headers',
    )
    .where('d.id', id)
    .whereIn('d.organization_id', [...organizationIds])
    .first();
  return row ? toDeadLetter(row) : null;
}

/** A record to produce again: the original bytes and headers. */
export interface ReplayRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}

export type Produce = (record: ReplayRecord) => Promise<{ topic: string; partition: number; offset: string }>;

/**
 * Headers as the sink stored them: {name: string} or {name: {base64}} or {name: [..]}; a
 * string is taken as UTF-8 text (Kafka Connect headers are usually text).
 */
export function headersFromStored(stored: unknown): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  if (stored === null || typeof stored !== 'object' || Array.isArray(stored)) return out;
  for (const [name, v] of Object.entries(stored as Record<string, unknown>)) {
    const one = Array.isArray(v) ? v[v.length - 1] : v;
    if (typeof one === 'string') out[name] = Buffer.from(one, 'utf8');
    else if (one && typeof one === 'object' && typeof (one as { base64?: unknown }).base64 === 'string')
      out[name] = Buffer.from((one as { base64: string }).base64, 'base64');
    else if (one !== null && one !== undefined) out[name] = Buffer.from(JSON.stringify(one), 'utf8');
  }
  return out;
}

export interface ReplayOutcome {
  id: string;
  /** modification: the modification is committed again; topic: the event was produced again. */
  via: 'modification' | 'topic';
  modificationId: string | null;
  produced?: { topic: string; partition: number; offset: string };
}

export async function replayDeadLetter(
  db: Knex,
  input: { id: string; organizationIds: readonly string[]; actor: string; reason?: string; produce?: Produce },
): Promise<ReplayOutcome> {
  return db.transaction(async (tx) => {
    const dl = await tx('dead_letter')
      .where({ id: input.id })
      .whereIn('organization_id', [...input.organizationIds])
      .forUpdate()
      .first();
    if (!dl) throw new ActionRefusedError('not_found', 'NOT_FOUND', `dead letter ${input.id} not found`);
    if (dl.status !== 'open')
      throw new ActionRefusedError(
        'state',
        'DEAD_LETTER_NOT_OPEN',
        `dead letter ${input.id} is ${dl.status}, not open`,
        { status: dl.status },
      );

    let outcome: ReplayOutcome;
    let previous: Record<string, unknown> = {};
    if (dl.modification_id) {
      const mod = await tx('pfa_modification')
        .where({ id: dl.modification_id, organization_id: dl.organization_id })
        .forUpdate()
        .first('sync_status', 'sync_error', 'attempts');
      if (!mod)
        throw new ActionRefusedError(
          'state',
          'MODIFICATION_MISSING',
          `modification ${dl.modification_id} of dead letter ${input.id} no longer exists`,
        );
      if (mod.sync_status !== 'failed' && mod.sync_status !== 'rejected') {
        throw new ActionRefusedError(
          'state',
          'MODIFICATION_NOT_REPLAYABLE',
          `modification ${dl.modification_id} is ${mod.sync_status}; only failed or rejected ones are replayed`,
          {
            modificationId: dl.modification_id,
            syncStatus: mod.sync_status,
          },
        );
      }
      previous = { syncStatus: mod.sync_status, syncError: mod.sync_error, attempts: Number(mod.attempts) };
      // Same row: the transition into committed is the sink's work signal; the id (and with it the
      // PEMS idempotency key) is unchanged, so a write that did land once is not applied twice.
      await tx('pfa_modification').where({ id: dl.modification_id }).update({
        sync_status: 'committed',
        committed_at: tx.fn.now(),
        sync_error: null,
        synced_at: null,
        updated_at: tx.fn.now(),
      });
      outcome = { id: dl.id, via: 'modification', modificationId: dl.modification_id };
    } else {
      if (!input.produce)
        throw new ActionRefusedError(
          'state',
          'KAFKA_UNAVAILABLE',
          'replaying an event without a modification needs Kafka, which this API has not been given',
        );
      // Produced inside the transaction: if it fails the dead letter stays open; if the commit
      // fails after it, the event is in the topic twice at most (the sink is idempotent per id).
      const produced = await input.produce({
        key: dl.record_key,
        value: dl.record_value,
        headers: headersFromStored(dl.record_headers),
      });
      outcome = { id: dl.id, via: 'topic', modificationId: null, produced };
    }
    await tx('dead_letter')
      .where({ id: dl.id })
      .update({
        status: 'replayed',
        resolved_by: input.actor,
        resolved_at: tx.fn.now(),
        resolution_reason: input.reason ?? null,
        updated_at: tx.fn.now(),
      });
    await appendAudit(tx, {
      organizationId: dl.organization_id,
      pfaId: dl.pfa_id,
      modificationId: dl.modification_id,
      actor: input.actor,
      eventType: 'deadletter.replayed',
      details: {
        deadLetterId: dl.id,
        via: outcome.via,
        errorCode: dl.error_code,
        deadLetterReason: dl.reason,
        source: { topic: dl.source_topic, partition: Number(dl.source_partition), offset: String(dl.source_offset) },
        ...(dl.modification_id ? { previous } : {}),
        ...(outcome.produced ? { produced: outcome.produced } : {}),
        ...(input.reason ? { reason: input.reason } : {}),
      },
    });
    return outcome;
  });
}

export async function discardDeadLetter(
  db: Knex,
  input: { id: string; organizationIds: readonly string[]; actor: string; reason: string },
): Promise<DeadLetterSummary> {
  return db.transaction(async (tx) => {
    const dl = await tx('dead_letter')
      .where({ id: input.id })
      .whereIn('organization_id', [...input.organizationIds])
      .forUpdate()
      .first('id', 'organization_id', 'pfa_id', 'modification_id', 'status', 'error_code', 'reason');
    if (!dl) throw new ActionRefusedError('not_found', 'NOT_FOUND', `dead letter ${input.id} not found`);
    if (dl.status !== 'open')
      throw new ActionRefusedError(
        'state',
        'DEAD_LETTER_NOT_OPEN',
        `dead letter ${input.id} is ${dl.status}, not open`,
        { status: dl.status },
      );
    await tx('dead_letter').where({ id: dl.id }).update({
      status: 'discarded',
      resolved_by: input.actor,
      resolved_at: tx.fn.now(),
      resolution_reason: input.reason,
      updated_at: tx.fn.now(),
    });
    await appendAudit(tx, {
      organizationId: dl.organization_id,
      pfaId: dl.pfa_id,
      modificationId: dl.modification_id,
      actor: input.actor,
      eventType: 'deadletter.discarded',
      details: { deadLetterId: dl.id, errorCode: dl.error_code, deadLetterReason: dl.reason, reason: input.reason },
    });
    return (await getDeadLetterSummary(tx, [dl.organization_id], dl.id))!;
  });
}
