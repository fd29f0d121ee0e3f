import type { Knex } from 'knex';

/**
 * Indexes for the console's reads, so that each page costs what it shows, not the size of the
 * tables (measured by `npm run bench:console` at 100,000 edits, 10,000 open conflicts and
 * 1,000,000 audit entries):
 * - the edits not yet in PEMS per organization (status screen: counts and the oldest), a small
 *   partial index the sink's finished edits leave;
 * - edits by organization and last update (the status screen's minutes of the last hour);
 * - the last edit applied per organization;
 * - one user's edits newest first (My edits);
 * - the audit entries of one modification (a dead letter's PEMS attempts).
 *
 * Built CONCURRENTLY, outside a transaction: on a database already holding millions of edits
 * and audit entries a plain CREATE INDEX would stop every writer (the sink, the read side, the
 * API) for the whole build. A build that failed part way leaves an invalid index of the same
 * name, which IF NOT EXISTS would keep: it is dropped and built again.
 */
const INDEXES: Array<[name: string, sql: string]> = [
  [
    'pfa_modification_waiting',
    `ON pfa_modification (organization_id, sync_status, committed_at) WHERE sync_status IN ('committed', 'queued', 'syncing')`,
  ],
  ['pfa_modification_org_updated', 'ON pfa_modification (organization_id, updated_at)'],
  ['pfa_modification_org_synced', 'ON pfa_modification (organization_id, synced_at) WHERE synced_at IS NOT NULL'],
  ['pfa_modification_user_created', 'ON pfa_modification (user_id, created_at, id)'],
  ['audit_log_modification', 'ON audit_log (modification_id, id) WHERE modification_id IS NOT NULL'],
];

export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  for (const [name, sql] of INDEXES) {
    const invalid = await knex.raw(
      `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname = ? AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid`,
      [name],
    );
    if (invalid.rows.length > 0) await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
    await knex.raw(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ${sql}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [name] of [...INDEXES].reverse()) await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
}
