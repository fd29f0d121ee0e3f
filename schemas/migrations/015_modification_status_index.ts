import type { Knex } from 'knex';

/**
 * pfa_modification loses its single-column sync_status index (issue 16).
 *
 * Every modification's status changes three times (committed, the claim's syncing, the outcome),
 * and the replica-identity index (id, organization_id, pfa_id, sync_status) makes each of those a
 * non-HOT update, so each writes an entry into every index of the table. The index on sync_status
 * alone was one of them, and no query needs it: every status lookup also names the modifications
 * (by id: the claim, the recorder) or the organization (pfa_modification_waiting, _org_synced,
 * _organization_id_pfa_id_created_at serve those); the few whole-table summaries group by
 * organization and status and scan anyway. The claim's plan used it only to AND it with the id
 * lookup, extra work for the same rows.
 */
const INDEX = 'pfa_modification_sync_status_index';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX IF EXISTS ${INDEX}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX IF NOT EXISTS ${INDEX} ON pfa_modification (sync_status)`);
}
