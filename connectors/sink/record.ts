/**
 * The record stage: outcomes are group-committed, one Postgres transaction per flush (many
 * PFAs' outcomes at once), then emitted from the outbox, and only then are their Kafka
 * offsets marked done. What the transaction writes for each modification:
 *   - pfa_modification: status, error, PEMS version after, attempts, synced time — guarded by
 *     the status it had when claimed, so a second instance (rebalance, replay) that finishes
 *     later changes nothing and emits nothing;
 *   - pfa_mirror + pfa_mirror_history after a write;
 *   - audit_log: one entry per write attempt (who, what, PEMS's answer), or one for an outcome
 *     decided without PEMS;
 *   - sync_conflict / notification / dead_letter rows as the outcome asks;
 *   - sink_outbox: the result record, and the dead-letter record for failures and poison.
 */
import type { Knex } from 'knex';
import type { IHeaders } from 'kafkajs';
import { appendAudit, type AuditEntry } from '../postgres/audit';
import { applyMirrorVersions } from '../postgres/mirror';
import type { CdcPosition, Modification } from '../../streams/modification';
import {
  toDeadLetterHeaders,
  toResultRecord,
  syncStatusFor,
  PoisonEventError,
  type Outcome,
} from '../../streams/outcomes';
import type { PfaRecord } from '../../streams/pfa-record';
import { storeHeaders, type Emitter } from './emit';
import { CLAIMABLE } from './claims';

/** The Kafka record a modification came from, kept for its dead letter. */
export interface SourceRecord {
  position: CdcPosition;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

export interface AttemptLog {
  at: string;
  /** The version the write carried. */
  version: number;
  result: 'updated' | 'conflict' | 'rejected' | 'rate_limited' | 'transient' | 'error';
  pemsResponse: unknown;
}

export interface OutcomeEntry {
  kind: 'outcome';
  outcome: Outcome;
  modifications: Array<{ modification: Modification; source: SourceRecord }>;
  attempts: AttemptLog[];
  /** The record as PEMS now holds it, after a successful write. */
  mirrorRecord: PfaRecord | null;
  /** The thrown error behind a failed outcome (its class and stack go to the dead letter). */
  error?: unknown;
  traceId: string | null;
}

export interface PoisonEntry {
  kind: 'poison';
  reason: string;
  source: SourceRecord;
  /** The modification the event names, when it can be read (e.g. a delta over the size limit). */
  modificationId?: string | null;
}

export type RecordEntry = OutcomeEntry | PoisonEntry;

export interface RecorderOptions {
  db: Knex;
  emitter: Emitter;
  topics: { results: string; deadLetters: string };
  connectorName: string;
  /** Flush when this many entries wait. Default 2000. */
  maxEntries?: number;
  /** Flush at least this often while entries wait, ms. Default 20. */
  lingerMs?: number;
  /** Called after a flush is durable and emitted, with the positions now safe to commit. */
  onDurable: (positions: CdcPosition[], entries: RecordEntry[]) => void;
  onError: (err: unknown) => void;
  /** Tries of a flush's transaction and emit before giving up (backoff 0.25 s doubling to 15 s). Default 8. */
  retries?: number;
}

async function withRetries<T>(fn: () => Promise<T>, tries: number): Promise<T> {
  let delay = 250;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= tries || err instanceof TypeError || err instanceof ReferenceError) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  }
}


export class Recorder {
  private queue: Array<{ entry: RecordEntry; done: () => void; fail: (e: unknown) => void }> = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private emitting: Promise<void> = Promise.resolve();

  constructor(private readonly opts: RecorderOptions) {}

  /** Resolves once the entry is committed to Postgres and emitted to Kafka. */
  submit(entry: RecordEntry): Promise<void> {
    return new Promise((done, fail) => {
      this.queue.push({ entry, done, fail });
      if (this.queue.length >= (this.opts.maxEntries ?? 2000)) this.schedule(0);
      else this.schedule(this.opts.lingerMs ?? 20);
    });
  }

  pending(): number {
    return this.queue.length;
  }

  /** Flushes what waits now; resolves when every flush so far is done. */
  async flush(): Promise<void> {
    this.schedule(0);
    await new Promise((r) => setImmediate(r));
    await this.flushing;
    await this.emitting;
    if (this.queue.length > 0) await this.flush();
  }

  private schedule(ms: number): void {
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const batch = this.queue;
      this.queue = [];
      if (batch.length === 0) return;
      // Transactions run one at a time (one audit chain, a stable order); the emit of one flush
      // overlaps the transaction of the next, and the emitter keeps emits in order.
      const persisted = this.flushing.then(() => this.persistBatch(batch));
      this.flushing = persisted.then(() => undefined, () => undefined);
      this.emitting = Promise.all([this.emitting, persisted]).then(([, ids]) => this.emitBatch(batch, ids), () => undefined);
    }, ms);
  }

  private async persistBatch(batch: Array<{ entry: RecordEntry; done: () => void; fail: (e: unknown) => void }>): Promise<string[] | null> {
    const entries = batch.map((b) => b.entry);
    try {
      // Postgres restarting is a pause, not a loss: PEMS already has these writes, so the
      // outcomes are retried (with backoff) before giving up and letting redelivery redo them.
      return await withRetries(() => this.opts.db.transaction((trx) => this.persist(trx, entries)), this.opts.retries ?? 8);
    } catch (err) {
      // Nothing is marked done, so the offsets stay uncommitted and Kafka redelivers the events;
      // the claim guard and PEMS idempotency keys make the second pass safe.
      this.opts.onError(err);
      batch.forEach((b) => b.fail(err));
      return null;
    }
  }

  private async emitBatch(batch: Array<{ entry: RecordEntry; done: () => void; fail: (e: unknown) => void }>, ids: string[] | null): Promise<void> {
    if (ids === null) return; // the transaction failed and the batch was failed already
    const entries = batch.map((b) => b.entry);
    try {
      if (ids.length > 0) await withRetries(() => this.opts.emitter.drain(ids), this.opts.retries ?? 8);
      const positions = entries.flatMap((e) => (e.kind === 'poison' ? [e.source.position] : e.modifications.map((m) => m.source.position)));
      this.opts.onDurable(positions, entries);
      batch.forEach((b) => b.done());
    } catch (err) {
      // The outcomes are committed and the records wait in the outbox: the next start emits them.
      this.opts.onError(err);
      batch.forEach((b) => b.fail(err));
    }
  }

  private async persist(trx: Knex.Transaction, entries: RecordEntry[]): Promise<string[]> {
    const now = new Date();
    const outbox: Array<Record<string, unknown>> = [];
    const audit: AuditEntry[] = [];
    const deadLetters: Array<Record<string, unknown>> = [];
    const notifications: Array<Record<string, unknown>> = [];
    const conflicts: Array<Record<string, unknown>> = [];

    const outcomes = entries.filter((e): e is OutcomeEntry => e.kind === 'outcome');
    const statusRows = outcomes.flatMap((e) =>
      e.modifications.map(({ modification }) => {
        const status = syncStatusFor(e.outcome);
        return {
          id: modification.id,
          status,
          error: e.outcome.kind === 'rejected' || e.outcome.kind === 'failed' ? e.outcome.error : null,
          version: e.outcome.kind === 'synced' ? e.outcome.pemsVersionAfter : null,
          attempts: e.attempts.length,
          synced_at: e.outcome.kind === 'synced' ? now.toISOString() : null,
        };
      }),
    );
    const recorded = new Set<string>();
    if (statusRows.length > 0) {
      const res = await trx.raw(
        `UPDATE pfa_modification m SET sync_status = x.status, sync_error = x.error, pems_version_after = x.version,
                attempts = m.attempts + x.attempts, synced_at = x.synced_at, updated_at = now()
           FROM jsonb_to_recordset(?::jsonb) AS x(id uuid, status text, error jsonb, version int, attempts int, synced_at timestamptz)
          WHERE m.id = x.id AND m.sync_status = ANY(?)
          RETURNING m.id`,
        [JSON.stringify(statusRows.filter((r) => r.status !== null)), [...CLAIMABLE]],
      );
      for (const r of res.rows as Array<{ id: string }>) recorded.add(r.id);
    }

    const mirrorUpdates: Parameters<typeof applyMirrorVersions>[1][number][] = [];
    for (const e of outcomes) {
      const mine = e.modifications.filter((m) => recorded.has(m.modification.id));
      if (mine.length === 0) continue; // another instance recorded these first
      const ids = e.modifications.map((m) => m.modification.id);
      const o = e.outcome;

      if (e.mirrorRecord) {
        // After a write, the version is ours; otherwise it is PEMS's record as read (a recheck).
        mirrorUpdates.push(o.kind === 'synced' && !o.alreadyApplied ? { record: e.mirrorRecord, origin: 'sync', modificationIds: ids } : { record: e.mirrorRecord, origin: 'pems' });
      }

      for (const { modification: m, source } of mine) {
        const base = { organizationId: m.organizationId, pfaId: m.pfaId, modificationId: m.id, actor: m.userId };
        if (e.attempts.length === 0) {
          audit.push({ ...base, eventType: `sync.${o.kind}`, details: { outcome: o, coalescedWith: ids } });
        }
        e.attempts.forEach((a, i) =>
          audit.push({
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
        const record = toResultRecord(o, m, { attempts: e.attempts.length, syncedAtMs: now.getTime(), coalescedWith: ids }, e.traceId);
        outbox.push({
          kind: 'result',
          topic: this.opts.topics.results,
          // Keyed like the CDC topic and dead letters ({organization_id, pfa_id}): one PFA's results stay on one partition, in order.
          record_key: Buffer.from(JSON.stringify({ organization_id: m.organizationId, pfa_id: m.pfaId })),
          record_value: JSON.stringify(record),
          record_headers: JSON.stringify(e.traceId ? storeHeaders({ trace_id: e.traceId }) : {}),
        });

        if (o.kind === 'conflict') {
          conflicts.push({
            organization_id: m.organizationId,
            pfa_id: m.pfaId,
            modification_id: m.id,
            base_version: m.baseVersion,
            pems_version: o.pemsVersion ?? m.baseVersion,
            fields: JSON.stringify(o.fields),
            auto_merge_fields: JSON.stringify(Object.keys(m.delta).filter((f) => !o.fields.some((c) => c.field === f))),
            detected_by: 'sink',
          });
          notifications.push({ organization_id: m.organizationId, user_id: m.userId, kind: 'conflict', payload: JSON.stringify({ modificationId: m.id, pfaId: m.pfaId, fields: o.fields.map((f) => f.field) }) });
        } else if (o.kind === 'rejected') {
          notifications.push({ organization_id: m.organizationId, user_id: m.userId, kind: 'rejected', payload: JSON.stringify({ modificationId: m.id, pfaId: m.pfaId, error: o.error }) });
        } else if (o.kind === 'failed') {
          const err = e.error ?? Object.assign(new Error(o.error.message), { code: o.error.code });
          const headers = toDeadLetterHeaders(source.headers as never, source.position, err, { connectorName: this.opts.connectorName, stage: 'PEMS_WRITE' });
          outbox.push({
            kind: 'dead_letter',
            topic: this.opts.topics.deadLetters,
            record_key: source.key,
            raw_value: source.value,
            record_headers: JSON.stringify(storeHeaders(headers)),
          });
          deadLetters.push(this.deadLetterRow(source, o.error.message, o.error.code, o.error, m));
          notifications.push({ organization_id: m.organizationId, user_id: m.userId, kind: 'failed', payload: JSON.stringify({ modificationId: m.id, pfaId: m.pfaId, error: o.error }) });
          notifications.push({ organization_id: m.organizationId, user_id: null, kind: 'dead_letter', payload: JSON.stringify({ modificationId: m.id, pfaId: m.pfaId, reason: o.error.message }) });
        }
      }
    }

    for (const e of entries) {
      if (e.kind !== 'poison') continue;
      const err = new PoisonEventError(e.reason);
      const row = this.deadLetterRow(e.source, e.reason, err.code, err.toJSON(), null, await knownOrganization(trx, organizationOf(e.source.key)));
      // Once per event, whoever reads it (redelivery, another instance or shard): the unique
      // index dead_letter_poison_once decides, and only the first writer emits the record.
      const inserted = await trx('dead_letter').insert(row).onConflict(trx.raw('(source_topic, source_partition, source_offset) WHERE modification_id IS NULL')).ignore().returning('id');
      if (inserted.length === 0) continue;
      const headers = toDeadLetterHeaders(e.source.headers as never, e.source.position, err, { connectorName: this.opts.connectorName, stage: 'DECODE' });
      outbox.push({
        kind: 'dead_letter',
        topic: this.opts.topics.deadLetters,
        record_key: e.source.key,
        raw_value: e.source.value,
        record_headers: JSON.stringify(storeHeaders(headers)),
      });
      if (row.organization_id) {
        notifications.push({ organization_id: row.organization_id, user_id: null, kind: 'dead_letter', payload: JSON.stringify({ reason: e.reason }) });
      }
      // A readable modification behind the bad event (a delta over the size limit) gets its own
      // outcome too, so the person who made it sees why it will never reach PEMS.
      if (e.modificationId && row.organization_id) {
        const error = { code: err.code, message: e.reason };
        const rejected = await trx('pfa_modification')
          .where({ id: e.modificationId })
          .whereIn('sync_status', [...CLAIMABLE])
          .update({ sync_status: 'rejected', sync_error: JSON.stringify(error), updated_at: trx.fn.now() }, ['id', 'organization_id', 'pfa_id', 'user_id']);
        for (const m of rejected as Array<{ id: string; organization_id: string; pfa_id: string; user_id: string }>) {
          audit.push({ organizationId: m.organization_id, pfaId: m.pfa_id, modificationId: m.id, actor: m.user_id, eventType: 'sync.rejected', details: { outcome: { kind: 'rejected', error } } });
          notifications.push({ organization_id: m.organization_id, user_id: m.user_id, kind: 'rejected', payload: JSON.stringify({ modificationId: m.id, pfaId: m.pfa_id, error }) });
        }
      }
    }

    await applyMirrorVersions(trx, mirrorUpdates);
    // A write-ahead intent (connectors/sink/write.ts) is needed until every modification it
    // carried has an outcome: one still in flight (a later batch, another instance) resumes it
    // and is recorded at the version that intent produced (connectors/sink/resume.ts).
    if (recorded.size > 0) {
      await trx.raw(
        `DELETE FROM pems_write_intent w WHERE w.modification_ids && ?::uuid[]
            AND NOT EXISTS (SELECT 1 FROM pfa_modification m WHERE m.id = ANY(w.modification_ids) AND m.sync_status = ANY(?))`,
        [[...recorded], [...CLAIMABLE]],
      );
    }
    if (conflicts.length > 0) {
      // An early warning from the read side is replaced by the sink's verdict.
      await trx('sync_conflict')
        .whereIn('modification_id', conflicts.map((c) => c.modification_id as string))
        .andWhere({ status: 'open', detected_by: 'early_warning' })
        .update({ status: 'superseded', updated_at: trx.fn.now() });
      await trx('sync_conflict').insert(conflicts);
    }
    if (deadLetters.length > 0) await trx('dead_letter').insert(deadLetters);
    if (notifications.length > 0) await trx('notification').insert(notifications);
    await appendAudit(trx, audit);
    if (outbox.length === 0) return [];
    const ids = await trx('sink_outbox').insert(outbox).returning('id');
    return ids.map((r: { id: string | number }) => String(r.id));
  }

  private deadLetterRow(
    source: SourceRecord,
    reason: string,
    code: string,
    error: unknown,
    m: Modification | null,
    organizationId: string | null = m?.organizationId ?? null,
  ): Record<string, unknown> {
    return {
      organization_id: organizationId,
      pfa_id: m?.pfaId ?? null,
      modification_id: m?.id ?? null,
      source_topic: source.position.topic,
      source_partition: source.position.partition,
      source_offset: source.position.offset,
      record_key: source.key,
      record_value: source.value,
      record_headers: JSON.stringify(storeHeaders(source.headers)),
      reason: reason.slice(0, 2000),
      error_code: code,
      error: JSON.stringify(error ?? {}),
    };
  }
}

/** The organization id if it exists (a dead letter may only reference a real one). */
async function knownOrganization(trx: Knex.Transaction, id: string | null): Promise<string | null> {
  if (id === null) return null;
  const row = await trx('organization').where({ id }).first('id');
  return row ? id : null;
}

/** The organization named in a CDC key, when the key is readable JSON. */
export function organizationOf(key: Buffer | null): string | null {
  if (!key) return null;
  try {
    const k = JSON.parse(key.toString('utf8')) as { organization_id?: unknown };
    return typeof k.organization_id === 'string' ? k.organization_id : null;
  } catch {
    return null;
  }
}
