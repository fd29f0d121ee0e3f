/**
 * What reconcile (connectors/reconcile) reads from Postgres about one organization: the mirror,
 * the modifications (drafts excluded), the Vanguard users, and the mirror history where it
 * matters. Four queries, mapped to the pure comparison's inputs (streams/reconcile.ts).
 */
import type { Knex } from 'knex';
import type { HistoryInput, MirrorInput, ModificationInput } from '../../streams/reconcile';
import type { PfaRecord } from '../../streams/pfa-record';

export interface ReconcileInputs {
  mirror: MirrorInput[];
  history: HistoryInput[];
  modifications: ModificationInput[];
  /** The organization's members and every author of one of its modifications. */
  users: Set<string>;
}

const iso = (d: unknown): string | null =>
  d === null || d === undefined ? null : d instanceof Date ? d.toISOString() : String(d);

export async function loadReconcileInputs(db: Knex, organization: string): Promise<ReconcileInputs> {
  const [mirrorRows, modRows, userRows] = await Promise.all([
    db('pfa_mirror').where({ organization_id: organization }).select('pfa_id', 'version', 'data'),
    db('pfa_modification')
      .where({ organization_id: organization })
      .whereNot({ sync_status: 'draft' })
      .select(
        'id',
        'pfa_id',
        'user_id',
        'operation',
        'delta',
        'sync_status',
        'pems_version_after',
        'committed_at',
        'created_at',
      ),
    db('user_organization').where({ organization_id: organization }).select('user_id'),
  ]);
  const users = new Set<string>(userRows.map((u: { user_id: string }) => u.user_id));
  for (const m of modRows as Array<{ user_id: string }>) users.add(m.user_id);
  // History only where it matters: PFAs with a synced modification, and versions our users wrote.
  const historyRows = await db('pfa_mirror_history')
    .where({ organization_id: organization })
    .andWhere((q) =>
      q
        .whereIn(
          'pfa_id',
          db('pfa_modification').where({ organization_id: organization, sync_status: 'synced' }).select('pfa_id'),
        )
        .orWhere('origin', 'sync')
        .orWhereIn('changed_by', [...users]),
    )
    .select('pfa_id', 'version', 'data', 'changed_by', 'origin');

  const mirror: MirrorInput[] = mirrorRows.map((r: Record<string, any>) => ({
    pfaId: r.pfa_id as string,
    version: Number(r.version),
    data: r.data as PfaRecord,
  }));
  const history: HistoryInput[] = historyRows.map((r: Record<string, any>) => ({
    pfaId: r.pfa_id as string,
    version: Number(r.version),
    data: r.data as PfaRecord,
    changedBy: (r.changed_by as string | null) ?? null,
    origin: r.origin as string,
  }));
  const modifications: ModificationInput[] = modRows.map((r: Record<string, any>) => ({
    id: r.id as string,
    pfaId: r.pfa_id as string,
    userId: r.user_id as string,
    operation: r.operation === 'delete' ? 'delete' : 'update',
    delta: (typeof r.delta === 'string' ? JSON.parse(r.delta) : (r.delta ?? {})) as Record<string, unknown>,
    syncStatus: r.sync_status as string,
    pemsVersionAfter:
      r.pems_version_after === null || r.pems_version_after === undefined ? null : Number(r.pems_version_after),
    committedAt: iso(r.committed_at),
    createdAt: iso(r.created_at) ?? new Date(0).toISOString(),
  }));
  return { mirror, history, modifications, users };
}
