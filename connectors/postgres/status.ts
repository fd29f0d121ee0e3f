/**
 * GET /status's reads of one organization: modification counts by status, open conflicts and
 * dead letters, the latest sync, commit → PEMS latency over the last hour, and the row the PEMS
 * probe needs.
 */
import type { Knex } from 'knex';

/** What the PEMS probe needs of an organization row: its URL and the credential that must decrypt for it. */
export interface OrganizationPems {
  id: string;
  pems_base_url: string | null;
  pems_credential_encrypted: string | null;
}

export interface SyncStatus {
  counts: {
    /** committed or queued, not yet picked up */
    queued: number;
    inFlight: number;
    synced: number;
    failed: number;
    rejected: number;
    conflictsOpen: number;
    deadLettersOpen: number;
  };
  /** Latest synced_at, ISO; null before the first sync. */
  lastSuccessAt: string | null;
  latencyLastHour: { samples: number; p50Seconds: number | null; p95Seconds: number | null };
  org: OrganizationPems | undefined;
}

export async function readSyncStatus(db: Knex, organization: string): Promise<SyncStatus> {
  const [counts, conflicts, deadLetters, latency, org] = await Promise.all([
    db('pfa_modification')
      .where({ organization_id: organization })
      .groupBy('sync_status')
      .select('sync_status', db.raw('count(*)::int AS n'), db.raw('max(synced_at) AS last_synced')),
    db('sync_conflict').where({ organization_id: organization, status: 'open' }).count<{ n: string }[]>({ n: '*' }),
    db('dead_letter').where({ organization_id: organization, status: 'open' }).count<{ n: string }[]>({ n: '*' }),
    db.raw(
      `SELECT count(*)::int AS n,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM synced_at - committed_at)) AS p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM synced_at - committed_at)) AS p95
       FROM pfa_modification
       WHERE organization_id = ? AND sync_status = 'synced' AND committed_at IS NOT NULL
         AND synced_at >= now() - interval '1 hour'`,
      [organization],
    ),
    db('organization').where({ id: organization }).first('id', 'pems_base_url', 'pems_credential_encrypted') as Promise<
      OrganizationPems | undefined
    >,
  ]);
  const by = new Map<string, { n: number; last: Date | null }>(
    (counts as Array<{ sync_status: string; n: number; last_synced: Date | null }>).map((r) => [
      r.sync_status,
      { n: Number(r.n), last: r.last_synced },
    ]),
  );
  const n = (s: string): number => by.get(s)?.n ?? 0;
  const lastSuccess = by.get('synced')?.last ?? null;
  const lat = latency.rows[0] as { n: number; p50: number | null; p95: number | null };
  return {
    counts: {
      queued: n('committed') + n('queued'),
      inFlight: n('syncing'),
      synced: n('synced'),
      failed: n('failed'),
      rejected: n('rejected'),
      conflictsOpen: Number(conflicts[0]?.n ?? 0),
      deadLettersOpen: Number(deadLetters[0]?.n ?? 0),
    },
    lastSuccessAt: lastSuccess ? new Date(lastSuccess).toISOString() : null,
    latencyLastHour: {
      samples: lat.n,
      p50Seconds: lat.p50 === null ? null : Number(lat.p50),
      p95Seconds: lat.p95 === null ? null : Number(lat.p95),
    },
    org,
  };
}
