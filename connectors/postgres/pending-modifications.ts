/**
 * Committed modifications of one PFA that the sink has not written yet, as the read side's
 * early warning (connectors/source/mirror-stream.ts) reads them inside the mirror write's
 * transaction.
 */
import type { Knex } from 'knex';

export interface PendingModification {
  id: string;
  userId: string;
  /** Field → the user's new value; null when the row holds none. */
  delta: Record<string, unknown> | null;
  baseVersion: number;
}

/**
 * The PFA's update modifications in one of `statuses` based on a version older than
 * `beforeVersion`, oldest first, locked FOR UPDATE (serializes with another early warning and
 * the sink on the same modification).
 */
export async function lockPendingUpdates(
  trx: Knex.Transaction,
  q: { organizationId: string; pfaId: string; beforeVersion: number; statuses: readonly string[] },
): Promise<PendingModification[]> {
  const rows = (await trx('pfa_modification')
    .where({ organization_id: q.organizationId, pfa_id: q.pfaId, operation: 'update' })
    .whereIn('sync_status', [...q.statuses])
    .where('base_version', '<', q.beforeVersion)
    .orderBy('created_at')
    .forUpdate()
    .select('id', 'user_id', 'delta', 'base_version')) as Array<{
    id: string;
    user_id: string;
    delta: Record<string, unknown> | null;
    base_version: number | string;
  }>;
  return rows.map((r) => ({ id: r.id, userId: r.user_id, delta: r.delta, baseVersion: Number(r.base_version) }));
}
