/**
 * The sink's record store: one flush of outcomes in one Postgres transaction. Which rows an
 * entry writes is decided by streams/outcome-rows.ts; this file runs the statements, in this
 * order (the audit chain and the outbox ids follow the entries' order):
 *   1. pfa_modification status, guarded by the statuses a claim starts from, so a second
 *      instance (rebalance, replay) that finishes later changes nothing and emits nothing;
 *   2. per poison event: its dead letter (once per event), and the modification behind it rejected;
 *   3. pfa_mirror + pfa_mirror_history, the write intents now answered, sync_conflict,
 *      dead_letter, notification, audit_log, and last the sink_outbox records (their ids returned
 *      for the emitter).
 */
import type { Knex } from 'knex';
import { appendAudit } from './audit';
import { applyMirrorVersions } from './mirror';
import { insertOutboxRecords } from './outbox';
import { organizationOf, type PoisonEntry, type RecordEntry } from '../../streams/record-entries';
import {
  outcomeRows,
  poisonDeadLetter,
  poisonRejection,
  statusUpdates,
  type ConflictRecord,
  type DeadLetterRecord,
  type NotificationRecord,
  type PoisonFacts,
  type RecordingContext,
  type RejectedModification,
  type StatusUpdate,
} from '../../streams/outcome-rows';

export interface RecordOptions extends RecordingContext {
  /** Statuses an outcome may be recorded over (those a claim starts from). */
  claimable: readonly string[];
}

/** Records the entries in one transaction; resolves with the outbox ids to emit. */
export function recordOutcomes(db: Knex, entries: readonly RecordEntry[], opts: RecordOptions): Promise<string[]> {
  return db.transaction(async (trx) => {
    const recorded = await updateStatuses(trx, statusUpdates(entries, opts.now), opts.claimable);
    const poison = new Map<PoisonEntry, PoisonFacts>();
    for (const e of entries) if (e.kind === 'poison') poison.set(e, await recordPoison(trx, e, opts.claimable));
    const rows = outcomeRows(entries, recorded, poison, opts);
    await applyMirrorVersions(trx, rows.mirror);
    if (recorded.size > 0) await releaseWriteIntents(trx, [...recorded], opts.claimable);
    await insertConflicts(trx, rows.conflicts);
    await insertDeadLetters(trx, rows.deadLetters);
    await insertNotifications(trx, rows.notifications);
    await appendAudit(trx, rows.audit);
    return insertOutboxRecords(trx, rows.outbox);
  });
}

/**
 * Sets each modification's status; resolves with the ids whose update took.
 *
 * Each row is looked up by its key alone (LATERAL, fenced by OFFSET 0) and locked, in id order;
 * the status test runs on the locked row, outside the lookup, so the partial index of waiting
 * modifications cannot serve it (inside, the planner scanned that whole index for every row:
 * 3,208,000 entries for 400 outcomes in the regression test); the updated row is then found by id
 * alone. A row no longer claimable (another instance recorded it) stays locked, unchanged, until
 * the flush commits. Written as `FROM
 * jsonb_to_recordset(...) x WHERE m.id = x.id AND m.sync_status = ANY(claimable)`, the planner, with
 * statistics taken while few edits waited, hashed every row of pfa_modification_waiting for each
 * flush: 19 ms per flush of about 70 during a 10,000 backlog, growing with it (issue 16;
 * tests/regression/sink-record-backlog-lookup.test.ts).
 */
async function updateStatuses(
  trx: Knex.Transaction,
  updates: readonly StatusUpdate[],
  claimable: readonly string[],
): Promise<Set<string>> {
  const recorded = new Set<string>();
  if (updates.length === 0) return recorded;
  const rows = updates
    .map((u) => ({
      id: u.modificationId,
      status: u.status,
      error: u.error,
      version: u.pemsVersionAfter,
      attempts: u.attempts,
      synced_at: u.syncedAt,
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const res = await trx.raw(
    `UPDATE pfa_modification m SET sync_status = u.status, sync_error = u.error, pems_version_after = u.version,
            attempts = m.attempts + u.attempts, synced_at = u.synced_at, updated_at = now()
       FROM (SELECT x.* FROM jsonb_to_recordset(?::jsonb) AS x(id uuid, status text, error jsonb, version int, attempts int, synced_at timestamptz)
               CROSS JOIN LATERAL (SELECT y.sync_status FROM pfa_modification y
                                    WHERE y.id = x.id OFFSET 0 FOR UPDATE) l
              WHERE l.sync_status = ANY(?)) u
      WHERE m.id = u.id
      RETURNING m.id`,
    [JSON.stringify(rows), [...claimable]],
  );
  for (const r of res.rows as Array<{ id: string }>) recorded.add(r.id);
  return recorded;
}

async function recordPoison(trx: Knex.Transaction, e: PoisonEntry, claimable: readonly string[]): Promise<PoisonFacts> {
  const organizationId = await knownOrganization(trx, organizationOf(e.source.key));
  // Once per event, whoever reads it (redelivery, another instance or shard): the unique
  // index dead_letter_poison_once decides, and only the first writer emits the record.
  const inserted = await trx('dead_letter')
    .insert(deadLetterColumns(poisonDeadLetter(e, organizationId)))
    .onConflict(trx.raw('(source_topic, source_partition, source_offset) WHERE modification_id IS NULL'))
    .ignore()
    .returning('id');
  if (inserted.length === 0) return { organizationId, inserted: false, rejected: [] };
  const rejected =
    e.modificationId && organizationId
      ? await rejectModification(trx, e.modificationId, poisonRejection(e), claimable)
      : [];
  return { organizationId, inserted: true, rejected };
}

/** The organization id if it exists (a dead letter may only reference a real one). */
async function knownOrganization(trx: Knex.Transaction, id: string | null): Promise<string | null> {
  if (id === null) return null;
  const row = await trx('organization').where({ id }).first('id');
  return row ? id : null;
}

async function rejectModification(
  trx: Knex.Transaction,
  id: string,
  error: unknown,
  claimable: readonly string[],
): Promise<RejectedModification[]> {
  const rows = await trx('pfa_modification')
    .where({ id })
    .whereIn('sync_status', [...claimable])
    .update({ sync_status: 'rejected', sync_error: JSON.stringify(error), updated_at: trx.fn.now() }, [
      'id',
      'organization_id',
      'pfa_id',
      'user_id',
    ]);
  return (rows as Array<{ id: string; organization_id: string; pfa_id: string; user_id: string }>).map((m) => ({
    id: m.id,
    organizationId: m.organization_id,
    pfaId: m.pfa_id,
    userId: m.user_id,
  }));
}

/**
 * A write-ahead intent (connectors/sink/write.ts) is needed until every modification it carried
 * has an outcome: one still in flight (a later batch, another instance) resumes it and is
 * recorded at the version that intent produced (connectors/sink/resume.ts).
 *
 * The "still waiting" test looks each carried modification up by id (unnest, then the primary
 * key, fenced by OFFSET 0 with the status tested outside, so the partial index of waiting
 * modifications cannot serve it). Written as `m.id = ANY(w.modification_ids)` the planner turned
 * it into an anti join that, per intent, scanned every waiting modification of the partial index:
 * during a 10,000 backlog ~450,000 rows compared per flush, 200-450 ms, a third of the recorder's
 * time; written as a join on the unnested ids it hashed every waiting modification once per flush,
 * 39 ms per flush of about 70 during a 10,000 backlog (issue 16).
 */
async function releaseWriteIntents(
  trx: Knex.Transaction,
  recorded: readonly string[],
  claimable: readonly string[],
): Promise<void> {
  await trx.raw(
    `DELETE FROM pems_write_intent w WHERE w.modification_ids && ?::uuid[]
        AND NOT EXISTS (SELECT 1 FROM unnest(w.modification_ids) AS carried(id)
                          CROSS JOIN LATERAL (SELECT m.sync_status FROM pfa_modification m
                                               WHERE m.id = carried.id OFFSET 0) s
                         WHERE s.sync_status = ANY(?))`,
    [[...recorded], [...claimable]],
  );
}

async function insertConflicts(trx: Knex.Transaction, conflicts: readonly ConflictRecord[]): Promise<void> {
  if (conflicts.length === 0) return;
  // An early warning from the read side is replaced by the sink's verdict.
  await trx('sync_conflict')
    .whereIn(
      'modification_id',
      conflicts.map((c) => c.modificationId),
    )
    .andWhere({ status: 'open', detected_by: 'early_warning' })
    .update({ status: 'superseded', updated_at: trx.fn.now() });
  await trx('sync_conflict').insert(
    conflicts.map((c) => ({
      organization_id: c.organizationId,
      pfa_id: c.pfaId,
      modification_id: c.modificationId,
      base_version: c.baseVersion,
      pems_version: c.pemsVersion,
      fields: JSON.stringify(c.fields),
      auto_merge_fields: JSON.stringify(c.autoMergeFields),
      detected_by: 'sink',
    })),
  );
}

function deadLetterColumns(d: DeadLetterRecord): Record<string, unknown> {
  return {
    organization_id: d.organizationId,
    pfa_id: d.pfaId,
    modification_id: d.modificationId,
    source_topic: d.source.topic,
    source_partition: d.source.partition,
    source_offset: d.source.offset,
    record_key: d.key,
    record_value: d.value,
    record_headers: JSON.stringify(d.headers),
    reason: d.reason,
    error_code: d.errorCode,
    error: JSON.stringify(d.error),
  };
}

async function insertDeadLetters(trx: Knex.Transaction, rows: readonly DeadLetterRecord[]): Promise<void> {
  if (rows.length > 0) await trx('dead_letter').insert(rows.map(deadLetterColumns));
}

async function insertNotifications(trx: Knex.Transaction, rows: readonly NotificationRecord[]): Promise<void> {
  if (rows.length === 0) return;
  await trx('notification').insert(
    rows.map((n) => ({
      organization_id: n.organizationId,
      user_id: n.userId,
      kind: n.kind,
      payload: JSON.stringify(n.payload),
    })),
  );
}
