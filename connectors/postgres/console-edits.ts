/** Edits (pfa_modification rows) as the console lists them: by id, by PFA, or one user's own. */
import type { Knex } from 'knex';

export interface EditRow {
  id: string;
  organizationId: string;
  pfaId: string;
  userId: string;
  operation: string;
  delta: Record<string, unknown>;
  baseVersion: number;
  syncStatus: string;
  syncError: { code?: string; message?: string; fieldErrors?: Array<{ field: string; message: string }> } | null;
  pemsVersionAfter: number | null;
  attempts: number;
  origin: string;
  committedAt: Date | null;
  syncedAt: Date | null;
  updatedAt: Date;
  createdAt: Date;
}

function toEdit(r: Record<string, any>): EditRow {
  return {
    id: r.id,
    organizationId: r.organization_id,
    pfaId: r.pfa_id,
    userId: r.user_id,
    operation: r.operation,
    delta: r.delta ?? {},
    baseVersion: r.base_version,
    syncStatus: r.sync_status,
    syncError: r.sync_error ?? null,
    pemsVersionAfter: r.pems_version_after,
    attempts: r.attempts,
    origin: r.origin,
    committedAt: r.committed_at ? new Date(r.committed_at) : null,
    syncedAt: r.synced_at ? new Date(r.synced_at) : null,
    updatedAt: new Date(r.updated_at),
    createdAt: new Date(r.created_at),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Committed edits whose id is `q` or whose PFA id is `q`, in the given organizations, newest first. */
export async function searchEdits(
  db: Knex,
  organizationIds: readonly string[],
  q: string,
  limit: number,
): Promise<EditRow[]> {
  if (organizationIds.length === 0) return [];
  const query = db('pfa_modification')
    .whereIn('organization_id', [...organizationIds])
    .whereNot('sync_status', 'draft')
    .where((w) => {
      w.where('pfa_id', q);
      if (UUID.test(q)) w.orWhere('id', q);
    });
  return (
    await query
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(limit)
  ).map(toEdit);
}

/** Where an edit is, as the "My edits" filter groups the statuses. */
export const EDIT_STAGES = {
  waiting: ['committed', 'queued', 'syncing'],
  applied: ['synced'],
  conflict: ['conflict'],
  rejected: ['rejected'],
  failed: ['failed'],
  superseded: ['superseded'],
} as const;
export type EditStage = keyof typeof EDIT_STAGES;

/** One user's committed edits, newest first, a page at a time (keyset on created_at, id). */
export async function listUserEdits(
  db: Knex,
  f: {
    userId: string;
    organizationIds: readonly string[];
    stage?: EditStage;
    pfaId?: string;
    before?: { t: string; id: string };
    limit: number;
  },
): Promise<EditRow[]> {
  if (f.organizationIds.length === 0) return [];
  const q = db('pfa_modification')
    .where({ user_id: f.userId })
    .whereIn('organization_id', [...f.organizationIds])
    .whereNot('sync_status', 'draft');
  if (f.stage) q.whereIn('sync_status', [...EDIT_STAGES[f.stage]]);
  if (f.pfaId) q.where('pfa_id', f.pfaId);
  if (f.before) q.whereRaw('(created_at, id) < (?::timestamptz, ?::uuid)', [f.before.t, f.before.id]);
  const rows = await q
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(f.limit)
    .select('*');
  return rows.map(toEdit);
}

/** The user's edits by stage and the oldest one still waiting (the "are my edits through?" line). */
export async function summariseUserEdits(
  db: Knex,
  userId: string,
  organizationIds: readonly string[],
): Promise<{ byStatus: Record<string, number>; oldestWaitingAt: Date | null }> {
  if (organizationIds.length === 0) return { byStatus: {}, oldestWaitingAt: null };
  const rows = (await db('pfa_modification')
    .where({ user_id: userId })
    .whereIn('organization_id', [...organizationIds])
    .whereNot('sync_status', 'draft')
    .groupBy('sync_status')
    .select('sync_status', db.raw('count(*)::int AS n'), db.raw('min(committed_at) AS oldest'))) as Array<{
    sync_status: string;
    n: number;
    oldest: Date | null;
  }>;
  const byStatus: Record<string, number> = {};
  let oldest: Date | null = null;
  for (const r of rows) {
    byStatus[r.sync_status] = r.n;
    if (
      (EDIT_STAGES.waiting as readonly string[]).includes(r.sync_status) &&
      r.oldest &&
      (!oldest || r.oldest < oldest)
    )
      oldest = new Date(r.oldest);
  }
  return { byStatus, oldestWaitingAt: oldest };
}

/** The latest send of each edit being sent: the sink stores its write-ahead intent before every send (created_at). */
export async function lastSendsOf(db: Knex, modificationIds: readonly string[]): Promise<Map<string, Date>> {
  const out = new Map<string, Date>();
  if (modificationIds.length === 0) return out;
  const res = await db.raw(
    `SELECT m.id, max(w.created_at) AS at
       FROM pems_write_intent w CROSS JOIN LATERAL unnest(w.modification_ids) AS m(id)
      WHERE w.modification_ids && ?::uuid[] AND m.id = ANY(?::uuid[])
      GROUP BY m.id`,
    [[...modificationIds], [...modificationIds]],
  );
  for (const r of res.rows as Array<{ id: string; at: Date }>) out.set(r.id, new Date(r.at));
  return out;
}
