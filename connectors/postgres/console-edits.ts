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
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Committed edits whose id is `q` or whose PFA id is `q`, in the given organizations, newest first. */
export async function searchEdits(db: Knex, organizationIds: readonly string[], q: string, limit: number): Promise<EditRow[]> {
  if (organizationIds.length === 0) return [];
  const query = db('pfa_modification')
    .whereIn('organization_id', [...organizationIds])
    .whereNot('sync_status', 'draft')
    .where((w) => {
      w.where('pfa_id', q);
      if (UUID.test(q)) w.orWhere('id', q);
    });
  return (await query.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit)).map(toEdit);
}
