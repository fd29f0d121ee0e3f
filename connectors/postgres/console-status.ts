/**
 * What the console's status screen reads from Postgres: per organization, where the edits are
 * now (by status), the oldest edit not yet in PEMS, the oldest the sink has not picked up, and
 * the last hour per minute (outcomes, commit→PEMS p50/p95). Outcome times are synced_at for
 * synced edits and updated_at (when the sink recorded the outcome) for the others.
 */
import type { Knex } from 'knex';

export interface OrgPipelineRow {
  organizationId: string;
  name: string;
  counts: Record<string, number>;
  /** committed_at of the oldest edit in committed / queued / syncing (not yet in PEMS). */
  oldestUnsyncedAt: Date | null;
  /** committed_at of the oldest edit still committed or queued: no sink instance has claimed it yet. */
  oldestUnclaimedAt: Date | null;
  lastSyncedAt: Date | null;
  totalEdits: number;
  conflictsOpen: number;
  deadLettersOpen: number;
  pemsBaseUrl: string | null;
  /** The encrypted credential, only for the PEMS probe's configuration check (never shown). */
  pemsCredentialEncrypted: string | null;
}

export interface MinuteRow {
  minute: Date;
  synced: number;
  conflict: number;
  rejected: number;
  failed: number;
  p50: number | null;
  p95: number | null;
}

export async function readOrgPipelines(db: Knex, organizationIds: readonly string[]): Promise<OrgPipelineRow[]> {
  if (organizationIds.length === 0) return [];
  const ids = [...organizationIds];
  const [orgs, counts, conflicts, deadLetters] = await Promise.all([
    db('organization').whereIn('id', ids).orderBy('id').select('id', 'name', 'pems_base_url', 'pems_credential_encrypted'),
    db.raw(
      `SELECT organization_id, sync_status, count(*)::int AS n,
              min(committed_at) FILTER (WHERE sync_status IN ('committed','queued','syncing')) AS oldest_unsynced,
              min(committed_at) FILTER (WHERE sync_status IN ('committed','queued')) AS oldest_unclaimed,
              max(synced_at) AS last_synced
         FROM pfa_modification WHERE organization_id = ANY(?) AND sync_status <> 'draft'
        GROUP BY organization_id, sync_status`,
      [ids],
    ),
    db('sync_conflict').whereIn('organization_id', ids).where({ status: 'open' }).groupBy('organization_id').select('organization_id', db.raw('count(*)::int AS n')),
    db('dead_letter').whereIn('organization_id', ids).where({ status: 'open' }).groupBy('organization_id').select('organization_id', db.raw('count(*)::int AS n')),
  ]);
  const out = new Map<string, OrgPipelineRow>();
  for (const o of orgs as Array<{ id: string; name: string; pems_base_url: string | null; pems_credential_encrypted: string | null }>) {
    out.set(o.id, {
      organizationId: o.id,
      name: o.name,
      counts: {},
      oldestUnsyncedAt: null,
      oldestUnclaimedAt: null,
      lastSyncedAt: null,
      totalEdits: 0,
      conflictsOpen: 0,
      deadLettersOpen: 0,
      pemsBaseUrl: o.pems_base_url,
      pemsCredentialEncrypted: o.pems_credential_encrypted,
    });
  }
  const earliest = (a: Date | null, b: Date | null): Date | null => (a === null ? b : b === null ? a : a < b ? a : b);
  for (const r of counts.rows as Array<{ organization_id: string; sync_status: string; n: number; oldest_unsynced: Date | null; oldest_unclaimed: Date | null; last_synced: Date | null }>) {
    const o = out.get(r.organization_id);
    if (!o) continue;
    o.counts[r.sync_status] = r.n;
    o.totalEdits += r.n;
    o.oldestUnsyncedAt = earliest(o.oldestUnsyncedAt, r.oldest_unsynced);
    o.oldestUnclaimedAt = earliest(o.oldestUnclaimedAt, r.oldest_unclaimed);
    if (r.last_synced && (!o.lastSyncedAt || r.last_synced > o.lastSyncedAt)) o.lastSyncedAt = r.last_synced;
  }
  for (const r of conflicts as Array<{ organization_id: string; n: number }>) out.get(r.organization_id)!.conflictsOpen = r.n;
  for (const r of deadLetters as Array<{ organization_id: string; n: number }>) out.get(r.organization_id)!.deadLettersOpen = r.n;
  return [...out.values()];
}

/** The last hour, one row per minute that had an outcome (minutes without one are absent). */
export async function readLastHour(db: Knex, organizationIds: readonly string[]): Promise<MinuteRow[]> {
  if (organizationIds.length === 0) return [];
  const res = await db.raw(
    `SELECT date_trunc('minute', at) AS minute,
            count(*) FILTER (WHERE sync_status = 'synced')::int AS synced,
            count(*) FILTER (WHERE sync_status = 'conflict')::int AS conflict,
            count(*) FILTER (WHERE sync_status = 'rejected')::int AS rejected,
            count(*) FILTER (WHERE sync_status = 'failed')::int AS failed,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY latency) FILTER (WHERE latency IS NOT NULL) AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY latency) FILTER (WHERE latency IS NOT NULL) AS p95
       FROM (SELECT sync_status,
                    CASE WHEN sync_status = 'synced' THEN synced_at ELSE updated_at END AS at,
                    CASE WHEN sync_status = 'synced' AND committed_at IS NOT NULL THEN extract(epoch FROM synced_at - committed_at) END AS latency
               FROM pfa_modification
              WHERE organization_id = ANY(?) AND sync_status IN ('synced','conflict','rejected','failed')
                AND updated_at >= now() - interval '1 hour') x
      WHERE at >= now() - interval '1 hour'
      GROUP BY 1 ORDER BY 1`,
    [[...organizationIds]],
  );
  return (res.rows as Array<Record<string, any>>).map((r) => ({
    minute: new Date(r.minute),
    synced: r.synced,
    conflict: r.conflict,
    rejected: r.rejected,
    failed: r.failed,
    p50: r.p50 === null ? null : Number(r.p50),
    p95: r.p95 === null ? null : Number(r.p95),
  }));
}
