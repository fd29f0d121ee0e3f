/**
 * Which rows an outcome writes: the record stage's group commit (connectors/sink/record.ts,
 * connectors/postgres/sink-record.ts) as a pure mapping from entries to rows. Per modification:
 *   - its status (error, PEMS version after, attempts, synced time); a skipped outcome leaves the
 *     row alone and writes nothing else either;
 * and, once that status update took (the claim guard: a second instance that finishes later
 * changes nothing and emits nothing):
 *   - the mirror's new version after a write (or PEMS's record as read, after a recheck);
 *   - one audit entry per write attempt (who, what, PEMS's answer), or one for an outcome decided
 *     without PEMS;
 *   - the result record in the outbox, keyed like the CDC topic;
 *   - conflict: a conflict row and the author's notification; rejected: the author's
 *     notification; failed: a dead letter (row and outbox record, stage PEMS_WRITE), the author's
 *     notification and the operators' dead_letter notification.
 * A poison event writes its dead letter once (the database says whether this is the first time,
 * PoisonFacts.inserted); the first writer emits the record (stage DECODE), notifies the
 * organization's operators when the organization exists, and rejects the modification behind
 * the event when one could be read.
 * The edge's clock and the database's answers come in as arguments; nothing here reads either.
 */
import type { AuditEntry } from './audit-entry';
import type { ConflictField } from './conflicts';
import type { CdcPosition, Modification, SyncStatus } from './modification';
import type { NotificationKind, NotificationPayloads } from './notifications';
import {
  PoisonEventError,
  RecordedError,
  syncStatusFor,
  toDeadLetterHeaders,
  toResultRecord,
  type OutcomeError,
  type SyncResultRecord,
} from './outcomes';
import type { PfaRecord } from './pfa-record';
import type { OutcomeEntry, PoisonEntry, RecordEntry, SourceRecord } from './record-entries';
import { storeHeaders, type StoredHeaders } from './stored-headers';

/** Longest dead-letter reason kept, characters. */
export const MAX_REASON_CHARS = 2000;

export interface RecordingContext {
  /** When the outcomes are recorded (synced time, result records). */
  now: Date;
  topics: { results: string; deadLetters: string };
  connectorName: string;
}

export interface StatusUpdate {
  modificationId: string;
  status: SyncStatus;
  error: OutcomeError | null;
  pemsVersionAfter: number | null;
  /** Added to the attempts the row already counts. */
  attempts: number;
  /** ISO-8601, synced outcomes only. */
  syncedAt: string | null;
}

export interface MirrorUpdate {
  record: PfaRecord;
  /** sync: the version our write produced; pems: PEMS's record as read. */
  origin: 'sync' | 'pems';
  modificationIds?: readonly string[];
}

export type OutboxRecord =
  | { kind: 'result'; topic: string; key: Buffer; value: SyncResultRecord; headers: StoredHeaders }
  | { kind: 'dead_letter'; topic: string; key: Buffer | null; rawValue: Buffer | null; headers: StoredHeaders };

export interface ConflictRecord {
  organizationId: string;
  pfaId: string;
  modificationId: string;
  baseVersion: number;
  pemsVersion: number;
  fields: ConflictField[];
  /** The modification's other fields, which a resolution merges without asking. */
  autoMergeFields: string[];
}

/** The notifications an outcome can raise (the kinds and payloads are named in notifications.ts). */
export type OutcomeNotificationKind = Extract<NotificationKind, 'conflict' | 'rejected' | 'failed' | 'dead_letter'>;

export type NotificationRecord = {
  [K in OutcomeNotificationKind]: {
    organizationId: string;
    /** Null: for the organization's operators. */
    userId: string | null;
    kind: K;
    payload: NotificationPayloads[K];
  };
}[OutcomeNotificationKind];

export interface DeadLetterRecord {
  organizationId: string | null;
  pfaId: string | null;
  modificationId: string | null;
  source: CdcPosition;
  key: Buffer | null;
  value: Buffer | null;
  headers: StoredHeaders;
  reason: string;
  errorCode: string;
  error: unknown;
}

/** A modification row as the database returned it after rejecting it. */
export interface RejectedModification {
  id: string;
  organizationId: string;
  pfaId: string;
  userId: string;
}

/** What the database said about one poison event in this transaction. */
export interface PoisonFacts {
  /** Its organization if that exists (a dead letter may only reference a real one). */
  organizationId: string | null;
  /** False when a dead letter for the same event was written before (redelivery, another instance). */
  inserted: boolean;
  /** The modification behind the event, rejected now (empty when none, or it already had an outcome). */
  rejected: readonly RejectedModification[];
}

/** The rows written after the status updates, in the order they are written. */
export interface OutcomeRows {
  mirror: MirrorUpdate[];
  audit: AuditEntry[];
  outbox: OutboxRecord[];
  conflicts: ConflictRecord[];
  notifications: NotificationRecord[];
  /** Failed writes' dead letters (a poison event's is written before, see poisonDeadLetter). */
  deadLetters: DeadLetterRecord[];
}

function outcomesOf(entries: readonly RecordEntry[]): OutcomeEntry[] {
  return entries.filter((e): e is OutcomeEntry => e.kind === 'outcome');
}

/** The status update of every modification of every outcome; skipped outcomes have none. */
export function statusUpdates(entries: readonly RecordEntry[], now: Date): StatusUpdate[] {
  return outcomesOf(entries).flatMap((e) => {
    const status = syncStatusFor(e.outcome);
    if (status === null) return [];
    const o = e.outcome;
    return e.modifications.map(({ modification }) => ({
      modificationId: modification.id,
      status,
      error: o.kind === 'rejected' || o.kind === 'failed' ? o.error : null,
      pemsVersionAfter: o.kind === 'synced' ? o.pemsVersionAfter : null,
      attempts: e.attempts.length,
      syncedAt: o.kind === 'synced' ? now.toISOString() : null,
    }));
  });
}

/** The error a poison event is dead-lettered with. */
export function poisonError(e: PoisonEntry): PoisonEventError {
  return new PoisonEventError(e.reason);
}

/** The dead letter of a poison event, written (once per event) before anything else of it. */
export function poisonDeadLetter(e: PoisonEntry, organizationId: string | null): DeadLetterRecord {
  const err = poisonError(e);
  return deadLetter(e.source, e.reason, err.code, err.toJSON(), null, organizationId);
}

/** The sync_error a modification behind a poison event is rejected with. */
export function poisonRejection(e: PoisonEntry): OutcomeError {
  return { code: poisonError(e).code, message: e.reason };
}

/**
 * Every row after the status updates. `recorded`: the modifications whose status update took;
 * `poison`: the database's answers for the poison entries (an entry without facts writes nothing more).
 */
export function outcomeRows(
  entries: readonly RecordEntry[],
  recorded: ReadonlySet<string>,
  poison: ReadonlyMap<PoisonEntry, PoisonFacts>,
  ctx: RecordingContext,
): OutcomeRows {
  const rows: OutcomeRows = { mirror: [], audit: [], outbox: [], conflicts: [], notifications: [], deadLetters: [] };
  for (const e of outcomesOf(entries)) addOutcome(rows, e, recorded, ctx);
  for (const e of entries) {
    if (e.kind !== 'poison') continue;
    const facts = poison.get(e);
    if (facts?.inserted) addPoison(rows, e, facts, ctx);
  }
  return rows;
}

function addOutcome(rows: OutcomeRows, e: OutcomeEntry, recorded: ReadonlySet<string>, ctx: RecordingContext): void {
  const mine = e.modifications.filter((m) => recorded.has(m.modification.id));
  if (mine.length === 0) return; // another instance recorded these first
  const ids = e.modifications.map((m) => m.modification.id);
  const o = e.outcome;
  if (e.mirrorRecord) {
    // After a write, the version is ours; otherwise it is PEMS's record as read (a recheck).
    rows.mirror.push(
      o.kind === 'synced' && !o.alreadyApplied
        ? { record: e.mirrorRecord, origin: 'sync', modificationIds: ids }
        : { record: e.mirrorRecord, origin: 'pems' },
    );
  }
  for (const { modification: m, source } of mine) {
    const base = { organizationId: m.organizationId, pfaId: m.pfaId, modificationId: m.id, actor: m.userId };
    if (e.attempts.length === 0)
      rows.audit.push({ ...base, eventType: `sync.${o.kind}`, details: { outcome: o, coalescedWith: ids } });
    e.attempts.forEach((a, i) =>
      rows.audit.push({
        ...base,
        eventType: 'sync.write',
        details: {
          attempt: i + 1,
          at: a.at,
          version: a.version,
          result: a.result,
          changes: m.delta,
          outcome: i === e.attempts.length - 1 ? o.kind : null,
          coalescedWith: ids,
        },
        pemsResponse: a.pemsResponse,
      }),
    );
    rows.outbox.push({
      kind: 'result',
      topic: ctx.topics.results,
      // Keyed like the CDC topic and dead letters ({organization_id, pfa_id}): one PFA's results
      // stay on one partition, in order.
      key: Buffer.from(JSON.stringify({ organization_id: m.organizationId, pfa_id: m.pfaId })),
      value: toResultRecord(
        o,
        m,
        { attempts: e.attempts.length, syncedAtMs: ctx.now.getTime(), coalescedWith: ids },
        e.traceId,
      ),
      headers: e.traceId ? storeHeaders({ trace_id: e.traceId }) : {},
    });
    const about = { modificationId: m.id, pfaId: m.pfaId };
    if (o.kind === 'conflict') {
      rows.conflicts.push({
        organizationId: m.organizationId,
        pfaId: m.pfaId,
        modificationId: m.id,
        baseVersion: m.baseVersion,
        pemsVersion: o.pemsVersion ?? m.baseVersion,
        fields: o.fields,
        autoMergeFields: Object.keys(m.delta).filter((f) => !o.fields.some((c) => c.field === f)),
      });
      rows.notifications.push(notice(m, 'conflict', { ...about, fields: o.fields.map((f) => f.field) }));
    } else if (o.kind === 'rejected') {
      rows.notifications.push(notice(m, 'rejected', { ...about, error: o.error }));
    } else if (o.kind === 'failed') {
      const err = e.error ?? new RecordedError(o.error);
      const headers = toDeadLetterHeaders(source.headers, source.position, err, {
        connectorName: ctx.connectorName,
        stage: 'PEMS_WRITE',
      });
      rows.outbox.push({
        kind: 'dead_letter',
        topic: ctx.topics.deadLetters,
        key: source.key,
        rawValue: source.value,
        headers: storeHeaders(headers),
      });
      rows.deadLetters.push(deadLetter(source, o.error.message, o.error.code, o.error, m));
      rows.notifications.push(notice(m, 'failed', { ...about, error: o.error }));
      rows.notifications.push({
        organizationId: m.organizationId,
        userId: null,
        kind: 'dead_letter',
        payload: { ...about, reason: o.error.message },
      });
    }
  }
}

function addPoison(rows: OutcomeRows, e: PoisonEntry, facts: PoisonFacts, ctx: RecordingContext): void {
  const headers = toDeadLetterHeaders(e.source.headers, e.source.position, poisonError(e), {
    connectorName: ctx.connectorName,
    stage: 'DECODE',
  });
  rows.outbox.push({
    kind: 'dead_letter',
    topic: ctx.topics.deadLetters,
    key: e.source.key,
    rawValue: e.source.value,
    headers: storeHeaders(headers),
  });
  if (facts.organizationId)
    rows.notifications.push({
      organizationId: facts.organizationId,
      userId: null,
      kind: 'dead_letter',
      payload: { reason: e.reason },
    });
  // A readable modification behind the bad event (a delta over the size limit) gets its own
  // outcome too, so the person who made it sees why it will never reach PEMS.
  const error = poisonRejection(e);
  for (const m of facts.rejected) {
    rows.audit.push({
      organizationId: m.organizationId,
      pfaId: m.pfaId,
      modificationId: m.id,
      actor: m.userId,
      eventType: 'sync.rejected',
      details: { outcome: { kind: 'rejected', error } },
    });
    rows.notifications.push({
      organizationId: m.organizationId,
      userId: m.userId,
      kind: 'rejected',
      payload: { modificationId: m.id, pfaId: m.pfaId, error },
    });
  }
}

function notice<K extends OutcomeNotificationKind>(
  m: Modification,
  kind: K,
  payload: NotificationPayloads[K],
): NotificationRecord {
  return { organizationId: m.organizationId, userId: m.userId, kind, payload } as NotificationRecord;
}

function deadLetter(
  source: SourceRecord,
  reason: string,
  code: string,
  error: unknown,
  m: Modification | null,
  organizationId: string | null = m?.organizationId ?? null,
): DeadLetterRecord {
  return {
    organizationId,
    pfaId: m?.pfaId ?? null,
    modificationId: m?.id ?? null,
    source: source.position,
    key: source.key,
    value: source.value,
    headers: storeHeaders(source.headers),
    reason: reason.slice(0, MAX_REASON_CHARS),
    errorCode: code,
    error: error ?? {},
  };
}
