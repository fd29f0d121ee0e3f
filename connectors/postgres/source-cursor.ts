/**
 * The read side's statements: which organizations to poll, the per-organization poll lock, and
 * the cursor row (pems_source_cursor) the poller advances page by page (connectors/source/poller.ts
 * says what each column means and when it is stored).
 */
import type { Knex } from 'knex';
import { PemsSyncError } from '../../streams/errors';

/** Advisory-lock class of the poller's per-organization lock ('pemt'); the migrator uses 'pems'. */
const POLL_LOCK_CLASS = 0x70656d74;

export interface OrganizationSource {
  id: string;
  baseUrl: string;
  tenant: string;
  credentialEncrypted: string;
}

export interface CursorRow {
  organization_id: string;
  updated_since: Date | null;
  cursor: string | null;
  mode: string;
  records_loaded: number;
  high_water_updated_at: Date | null;
}

/**
 * Organizations with a PEMS URL and credential, by id: with sync enabled, or (`includeSyncDisabled`
 * with an explicit list: `pems-sync org load`) the listed ones whatever their sync switch.
 */
export async function pollableOrganizations(
  db: Knex,
  opts: { organizations?: readonly string[]; includeSyncDisabled?: boolean },
): Promise<OrganizationSource[]> {
  const q = db('organization')
    .whereNotNull('pems_base_url')
    .whereNotNull('pems_credential_encrypted')
    .orderBy('id')
    .select('id', 'pems_base_url', 'pems_tenant', 'pems_credential_encrypted');
  if (!(opts.includeSyncDisabled && opts.organizations)) q.where({ sync_enabled: true });
  if (opts.organizations) q.whereIn('id', [...opts.organizations]);
  const rows = (await q) as Array<{
    id: string;
    pems_base_url: string;
    pems_tenant: string | null;
    pems_credential_encrypted: string;
  }>;
  return rows.map((r) => ({
    id: r.id,
    baseUrl: r.pems_base_url,
    tenant: r.pems_tenant ?? '',
    credentialEncrypted: r.pems_credential_encrypted,
  }));
}

/**
 * Runs `work` holding the organization's poll lock (a session-level advisory lock, so taken and
 * released on one connection); another holder: `work` does not run and the result is 'skipped'.
 */
export async function withPollLock<T>(db: Knex, organization: string, work: () => Promise<T>): Promise<T | 'skipped'> {
  const conn = await db.client.acquireConnection();
  let locked = false;
  try {
    const res = await db
      .raw('SELECT pg_try_advisory_lock(?, hashtext(?)) AS ok', [POLL_LOCK_CLASS, organization])
      .connection(conn);
    locked = Boolean((res.rows as Array<{ ok: boolean }>)[0]?.ok);
    if (!locked) return 'skipped';
    return await work();
  } finally {
    if (locked) {
      await db
        .raw('SELECT pg_advisory_unlock(?, hashtext(?))', [POLL_LOCK_CLASS, organization])
        .connection(conn)
        .catch(() => undefined);
    }
    await db.client.releaseConnection(conn);
  }
}

/** The organization's cursor; a new organization gets its row first (mode full_load: its first pass loads all). */
export async function loadCursor(db: Knex, organization: string): Promise<CursorRow> {
  await db('pems_source_cursor')
    .insert({ organization_id: organization, mode: 'full_load', records_loaded: 0 })
    .onConflict('organization_id')
    .ignore();
  const row = (await db('pems_source_cursor').where({ organization_id: organization }).first()) as
    CursorRow | undefined;
  if (!row) throw new PemsSyncError('PEMS_SYNC_SOURCE_CURSOR_MISSING', `no cursor row for ${organization}`);
  return { ...row, records_loaded: Number(row.records_loaded) };
}

export async function updateCursor(db: Knex, organization: string, patch: Record<string, unknown>): Promise<void> {
  await db('pems_source_cursor').where({ organization_id: organization }).update(patch);
}

/** A poll ended: when, and its error (null: it succeeded). */
export async function recordPoll(
  db: Knex,
  organization: string,
  at: Date,
  error: { code: string; message: string } | null,
): Promise<void> {
  await db('pems_source_cursor')
    .where({ organization_id: organization })
    .update({
      last_polled_at: at,
      last_error: error === null ? null : JSON.stringify({ ...error, at: at.toISOString() }),
    });
}
