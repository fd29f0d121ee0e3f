/**
 * What the console's status screen reads from Postgres: per organization, the edits not yet in
 * PEMS (by status), the oldest of them, the oldest the sink has not picked up, the last edit
 * applied, and outcomes per minute (counts, commit→PEMS p50/p95) over a time range. Outcome
 * times are synced_at for synced edits and updated_at (when the sink recorded the outcome) for
 * the others. Every read is bounded by an index (migration 013), not by the table's size.
 */
import type { Knex } from 'knex';

export interface OrgPipelineRow {
  organizationId: string;
  name: string;
  /** Edits not yet in PEMS, by status (committed, queued, syncing). */
  counts: Record<string, number>;
  /** committed_at of the oldest edit in committed / queued / syncing (not yet in PEMS). */
  oldestUnsyncedAt: Date | null;
  /** committed_at of the oldest edit still committed or queued: no sink instance has claimed it yet. */
  oldestUnclaimedAt: Date | null;
  lastSyncedAt: Date | null;
  /** Any edit committed, ever (the "No edits yet" state). */
  hasEdits: boolean;
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

/** The organizations' pipeline figures (the last hour's outcomes come from readMinutes). */
export async function readOrgPipelines(db: Knex, organizationIds: readonly string[]): Promise<OrgPipelineRow[]> {
  if (organizationIds.length === 0) return [];
  const ids = [...organizationIds];
  const [orgs, waiting, anyEdit, lastSynced, conflicts, deadLetters] = await Promise.all([
    db('organization')
      .whereIn('id', ids)
      .orderBy('id')
      .select('id', 'name', 'pems_base_url', 'pems_credential_encrypted'),
    // Only the edits not yet in PEMS (partial index pfa_modification_waiting, migration 013).
    db.raw(
      `SELECT organization_id, sync_status, count(*)::int AS n, min(committed_at) AS oldest
         FROM pfa_modification WHERE organization_id = ANY(?) AND sync_status IN ('committed','queued','syncing')
        GROUP BY organization_id, sync_status`,
      [ids],
    ),
    db.raw(
      `SELECT o AS organization_id FROM unnest(?::text[]) o WHERE EXISTS (SELECT 1 FROM pfa_modification m WHERE m.organization_id = o AND m.sync_status <> 'draft')`,
      [ids],
    ),
    db.raw(
      `SELECT o AS organization_id, (SELECT max(synced_at) FROM pfa_modification m WHERE m.organization_id = o AND m.synced_at IS NOT NULL) AS last_synced FROM unnest(?::text[]) o`,
      [ids],
    ),
    db('sync_conflict')
      .whereIn('organization_id', ids)
      .where({ status: 'open' })
      .groupBy('organization_id')
      .select('organization_id', db.raw('count(*)::int AS n')),
    db('dead_letter')
      .whereIn('organization_id', ids)
      .where({ status: 'open' })
      .groupBy('organization_id')
      .select('organization_id', db.raw('count(*)::int AS n')),
  ]);
  const out = new Map<string, OrgPipelineRow>();
  for (const o of orgs as Array<{
    id: string;
    name: string;
    pems_base_url: string | null;
    pems_credential_encrypted: string | null;
  }>) {
    out.set(o.id, {
      organizationId: o.id,
      name: o.name,
      counts: {},
      oldestUnsyncedAt: null,
      oldestUnclaimedAt: null,
      lastSyncedAt: null,
      hasEdits: false,
      conflictsOpen: 0,
      deadLettersOpen: 0,
      pemsBaseUrl: o.pems_base_url,
      pemsCredentialEncrypted: o.pems_credential_encrypted,
    });
  }
  const earliest = (a: Date | null, b: Date | null): Date | null => (a === null ? b : b === null ? a : a < b ? a : b);
  for (const r of waiting.rows as Array<{
    organization_id: string;
    sync_status: string;
    n: number;
    oldest: Date | null;
  }>) {
    const o = out.get(r.organization_id);
    if (!o) continue;
    o.counts[r.sync_status] = r.n;
    o.oldestUnsyncedAt = earliest(o.oldestUnsyncedAt, r.oldest);
    if (r.sync_status !== 'syncing') o.oldestUnclaimedAt = earliest(o.oldestUnclaimedAt, r.oldest);
  }
  for (const r of anyEdit.rows as Array<{ organization_id: string }>)
    if (out.has(r.organization_id)) out.get(r.organization_id)!.hasEdits = true;
  for (const r of lastSynced.rows as Array<{ organization_id: string; last_synced: Date | null }>)
    if (out.has(r.organization_id)) out.get(r.organization_id)!.lastSyncedAt = r.last_synced;
  for (const r of conflicts as Array<{ organization_id: string; n: number }>)
    out.get(r.organization_id)!.conflictsOpen = r.n;
  for (const r of deadLetters as Array<{ organization_id: string; n: number }>)
    out.get(r.organization_id)!.deadLettersOpen = r.n;
  return [...out.values()];
}

/** One minute's outcomes of one organization (counts only: percentiles do not add up). */
export interface OrgMinuteRow {
  minute: Date;
  organizationId: string;
  synced: number;
  conflict: number;
  rejected: number;
  failed: number;
}

/**
 * Outcomes per minute from `from` (inclusive) to `to` (exclusive; open when null): per minute over
 * all the given organizations with commit→PEMS p50/p95, and per minute and organization as
 * counts. Minutes without an outcome are absent. Uses pfa_modification_org_updated (migration 013):
 * an outcome's time is never before the row's last update.
 */
export async function readMinutes(
  db: Knex,
  organizationIds: readonly string[],
  from: Date,
  to: Date | null,
): Promise<{ overall: MinuteRow[]; byOrg: OrgMinuteRow[] }> {
  if (organizationIds.length === 0) return { overall: [], byOrg: [] };
  const res = await db.raw(
    `SELECT date_trunc('minute', at) AS minute, organization_id, GROUPING(organization_id) AS overall,
            count(*) FILTER (WHERE sync_status = 'synced')::int AS synced,
            count(*) FILTER (WHERE sync_status = 'conflict')::int AS conflict,
            count(*) FILTER (WHERE sync_status = 'rejected')::int AS rejected,
            count(*) FILTER (WHERE sync_status = 'failed')::int AS failed,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY latency) FILTER (WHERE latency IS NOT NULL) AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY latency) FILTER (WHERE latency IS NOT NULL) AS p95
       FROM (SELECT organization_id, sync_status,
                    CASE WHEN sync_status = 'synced' THEN synced_at ELSE updated_at END AS at,
                    CASE WHEN sync_status = 'synced' AND committed_at IS NOT NULL THEN extract(epoch FROM synced_at - committed_at) END AS latency
               FROM pfa_modification
              WHERE organization_id = ANY(?) AND sync_status IN ('synced','conflict','rejected','failed')
                AND updated_at >= ?) x
      WHERE at >= ? AND (?::timestamptz IS NULL OR at < ?::timestamptz)
      GROUP BY GROUPING SETS ((1), (1, 2)) ORDER BY 1`,
    [[...organizationIds], from, from, to, to],
  );
  const overall: MinuteRow[] = [];
  const byOrg: OrgMinuteRow[] = [];
  for (const r of res.rows as Array<Record<string, any>>) {
    const counts = {
      minute: new Date(r.minute),
      synced: r.synced,
      conflict: r.conflict,
      rejected: r.rejected,
      failed: r.failed,
    };
    if (r.overall === 1)
      overall.push({
        ...counts,
        p50: r.p50 === null ? null : Number(r.p50),
        p95: r.p95 === null ? null : Number(r.p95),
      });
    else byOrg.push({ ...counts, organizationId: r.organization_id });
  }
  return { overall, byOrg };
}
