/**
 * The sink's reads and writes outside its claims (claims.ts owns that table) and its recorder:
 * what the check stage loads for claimed edits (mirror versions, base versions, its own earlier
 * writes, write intents a stopped instance left), the write-ahead intents stored before each
 * POST /pfa/batch, and the PEMS-outage notification. Every list is joined through unnest():
 * a row-value IN list of hundreds of pairs plans badly in Postgres.
 */
import type { Knex } from 'knex';
import { pfaKey } from '../../streams/grouping';
import type { Modification } from '../../streams/modification';
import type { PfaRecord } from '../../streams/pfa-record';
import { notificationRow } from '../../streams/notifications';
import type { BatchItem } from '../pems';

/** An item a sink stored before sending it (or while sending it), for the modifications it carries. */
export interface WriteIntent {
  key: string;
  modificationIds: string[];
  item: BatchItem;
}

/** A delta this sink already wrote to a PFA, with the PEMS version it produced. */
export interface OwnWrite {
  version: number;
  delta: Record<string, unknown>;
}

type Db = Knex | Knex.Transaction;

/** The mirror's record (PEMS as last seen) of each PFA, by pfaKey. */
export async function loadMirrors(db: Db, mods: readonly Modification[]): Promise<Map<string, PfaRecord>> {
  const out = new Map<string, PfaRecord>();
  if (mods.length === 0) return out;
  const rows = await db
    .select('m.organization_id', 'm.pfa_id', 'm.data')
    .from(
      db.raw('unnest(?::text[], ?::text[]) AS k(org, pfa)', [
        mods.map((m) => m.organizationId),
        mods.map((m) => m.pfaId),
      ]),
    )
    .join('pfa_mirror as m', function () {
      this.on('m.organization_id', '=', 'k.org').andOn('m.pfa_id', '=', 'k.pfa');
    });
  for (const r of rows) out.set(pfaKey(r.organization_id, r.pfa_id), r.data as PfaRecord);
  return out;
}

/** The mirror history's record at each modification's base version, by pfaKey and version. */
export async function loadBaseVersions(
  db: Db,
  mods: readonly Modification[],
): Promise<Map<string, Map<number, PfaRecord>>> {
  const out = new Map<string, Map<number, PfaRecord>>();
  if (mods.length === 0) return out;
  const rows = await db
    .distinct('h.organization_id', 'h.pfa_id', 'h.version', 'h.data')
    .from(
      db.raw('unnest(?::text[], ?::text[], ?::int[]) AS k(org, pfa, version)', [
        mods.map((m) => m.organizationId),
        mods.map((m) => m.pfaId),
        mods.map((m) => m.baseVersion),
      ]),
    )
    .join('pfa_mirror_history as h', function () {
      this.on('h.organization_id', '=', 'k.org').andOn('h.pfa_id', '=', 'k.pfa').andOn('h.version', '=', 'k.version');
    });
  for (const r of rows) {
    const k = pfaKey(r.organization_id, r.pfa_id);
    const m = out.get(k) ?? new Map<number, PfaRecord>();
    m.set(Number(r.version), r.data as PfaRecord);
    out.set(k, m);
  }
  return out;
}

/**
 * Write-ahead intents that carry any of these modifications (left by an instance that stopped
 * before recording), oldest first.
 */
export async function loadWriteIntents(db: Db, modificationIds: readonly string[]): Promise<WriteIntent[]> {
  if (modificationIds.length === 0) return [];
  const rows = await db('pems_write_intent')
    .whereRaw('modification_ids && ?::uuid[]', [[...modificationIds]])
    .orderBy('created_at');
  return rows.map((r: { idempotency_key: string; modification_ids: string[]; item: BatchItem }) => ({
    key: r.idempotency_key,
    modificationIds: r.modification_ids,
    item: r.item,
  }));
}

/**
 * Deltas of each PFA's modifications already synced past the oldest base version among `mods`,
 * by pfaKey, in version order.
 */
export async function loadOwnWrites(db: Db, mods: readonly Modification[]): Promise<Map<string, OwnWrite[]>> {
  const out = new Map<string, OwnWrite[]>();
  const minBase = new Map<string, Modification>();
  for (const m of mods) {
    const k = pfaKey(m.organizationId, m.pfaId);
    const prev = minBase.get(k);
    if (!prev || m.baseVersion < prev.baseVersion) minBase.set(k, m);
  }
  if (minBase.size === 0) return out;
  // Per PFA an index lookup (LATERAL): as a plain join the planner hashed every synced
  // modification ever recorded, a sequential scan growing with history (issue 16: 36 ms against
  // 4-7 ms for 900 PFAs at 70,000 rows idle, 70-130 ms per fetched batch during a backlog).
  const { rows } = (await db.raw(
    `SELECT m.organization_id, m.pfa_id, m.delta, m.pems_version_after
       FROM unnest(?::text[], ?::text[], ?::int[]) AS b(org, pfa, base)
       CROSS JOIN LATERAL (
         SELECT x.organization_id, x.pfa_id, x.delta, x.pems_version_after FROM pfa_modification x
          WHERE x.organization_id = b.org AND x.pfa_id = b.pfa AND x.sync_status = 'synced'
            AND x.pems_version_after > b.base
         OFFSET 0 -- keeps the subquery a per-PFA lookup (not flattened back into the hash join)
       ) m
      ORDER BY m.pems_version_after`,
    [
      [...minBase.values()].map((m) => m.organizationId),
      [...minBase.values()].map((m) => m.pfaId),
      [...minBase.values()].map((m) => m.baseVersion),
    ],
  )) as { rows: Array<{ organization_id: string; pfa_id: string; delta: unknown; pems_version_after: number }> };
  for (const r of rows) {
    const k = pfaKey(r.organization_id, r.pfa_id);
    const list = out.get(k) ?? [];
    list.push({ version: Number(r.pems_version_after), delta: r.delta as Record<string, unknown> });
    out.set(k, list);
  }
  return out;
}

/** Stores the intents of one request before it is sent (a resend of the same key refreshes the item). */
export async function storeWriteIntents(
  db: Db,
  organization: string,
  items: ReadonlyArray<{ item: BatchItem; modificationIds: readonly string[] }>,
): Promise<void> {
  const rows = items
    .filter((i) => i.modificationIds.length > 0)
    .map((i) => ({
      idempotency_key: i.item.idempotencyKey,
      pfa_id: i.item.pfaId,
      modification_ids: i.modificationIds,
      item: i.item,
    }));
  if (rows.length === 0) return;
  // One JSON array parameter (jsonb_to_recordset), as mirror.ts and audit.ts write their rows.
  await db.raw(
    `INSERT INTO pems_write_intent AS w (idempotency_key, organization_id, pfa_id, modification_ids, item)
     SELECT x.idempotency_key, ?, x.pfa_id, x.modification_ids, x.item
       FROM jsonb_to_recordset(?::jsonb) AS x(idempotency_key text, pfa_id text, modification_ids uuid[], item jsonb)
     ON CONFLICT (idempotency_key) DO UPDATE SET item = EXCLUDED.item, created_at = EXCLUDED.created_at`,
    [organization, JSON.stringify(rows)],
  );
}

/** The operators' notification that PEMS became unreachable for an organization. */
export async function recordPemsOutage(db: Db, organizationId: string, since: Date): Promise<void> {
  await db('notification').insert(
    notificationRow(organizationId, null, 'pems_unreachable', { since: since.toISOString() }),
  );
}
