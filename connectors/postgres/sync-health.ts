/**
 * Per-organization figures an operator is alerted on, read from the tables the sink and the
 * control API already write (pfa_modification, sync_conflict, dead_letter, audit_chain_head).
 * Each query groups the whole table once, so the cost does not grow with the number of
 * organizations; the metrics collector (connectors/observability/sync-health-metrics.ts) turns
 * the rows into gauges at scrape time.
 */
import type { Knex } from 'knex';

export interface StatusCountRow {
  organizationId: string;
  status: string;
  count: number;
  /** now − the oldest committed_at among these rows, seconds (null: none committed). */
  oldestCommittedAgeSeconds: number | null;
  /** The newest synced_at (or updated_at) among these rows, Unix seconds. */
  newestChangeUnixSeconds: number | null;
}

export interface OpenItemsRow {
  organizationId: string;
  count: number;
  /** now − the oldest created_at among the open items, seconds. */
  oldestAgeSeconds: number;
}

export interface OrganizationRow {
  organizationId: string;
  syncEnabled: boolean;
  /** audit_chain_head.last_id: changes whenever an audit entry is appended (null: no entry yet). */
  auditHeadId: string | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export async function readOrganizations(db: Knex): Promise<OrganizationRow[]> {
  const res = await db.raw(
    `SELECT o.id, o.sync_enabled, h.last_id::text AS head
       FROM organization o LEFT JOIN audit_chain_head h ON h.organization_id = o.id`,
  );
  return (res.rows as Array<Record<string, unknown>>).map((r) => ({
    organizationId: String(r.id),
    syncEnabled: r.sync_enabled === true,
    auditHeadId: r.head === null ? null : String(r.head),
  }));
}

export async function readStatusCounts(db: Knex): Promise<StatusCountRow[]> {
  const res = await db.raw(
    `SELECT organization_id, sync_status, count(*)::bigint AS n,
            extract(epoch FROM now() - min(committed_at))::float8 AS oldest_committed_age,
            extract(epoch FROM max(coalesce(synced_at, updated_at)))::float8 AS newest_change
       FROM pfa_modification
      GROUP BY organization_id, sync_status`,
  );
  return (res.rows as Array<Record<string, unknown>>).map((r) => ({
    organizationId: String(r.organization_id),
    status: String(r.sync_status),
    count: Number(r.n),
    oldestCommittedAgeSeconds: num(r.oldest_committed_age),
    newestChangeUnixSeconds: num(r.newest_change),
  }));
}

async function openItems(db: Knex, table: 'sync_conflict' | 'dead_letter'): Promise<OpenItemsRow[]> {
  const res = await db.raw(
    `SELECT coalesce(organization_id, '') AS organization_id, count(*)::bigint AS n,
            extract(epoch FROM now() - min(created_at))::float8 AS oldest_age
       FROM ?? WHERE status = 'open'
      GROUP BY 1`,
    [table],
  );
  return (res.rows as Array<Record<string, unknown>>).map((r) => ({
    organizationId: String(r.organization_id),
    count: Number(r.n),
    oldestAgeSeconds: Math.max(0, Number(r.oldest_age ?? 0)),
  }));
}

/** Conflicts waiting for a person (status open), per organization. */
export const readOpenConflicts = (db: Knex): Promise<OpenItemsRow[]> => openItems(db, 'sync_conflict');

/** Dead letters not replayed or discarded yet (status open), per organization ('' when the record named none). */
export const readOpenDeadLetters = (db: Knex): Promise<OpenItemsRow[]> => openItems(db, 'dead_letter');
