import type { Knex } from 'knex';

/**
 * The read side's bookkeeping on pems_source_cursor (connectors/source/poller.ts):
 *  - high_water_updated_at: the newest PEMS updatedAt produced in the pass under way. Pages come
 *    in (updatedAt, pfaId) order, so it is the next pass's `updatedSince`; stored per page so a
 *    pass resumed after a crash still knows it when its last page turns out empty.
 *  - full_load_completed_at: when the first (full) pass of the organization finished.
 *  - last_polled_at / last_error: what the last poll did, for the status API and operators.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('pems_source_cursor', (t) => {
    t.timestamp('high_water_updated_at', { useTz: true }).comment('newest updatedAt produced in the current pass');
    t.timestamp('full_load_completed_at', { useTz: true });
    t.timestamp('last_polled_at', { useTz: true });
    t.jsonb('last_error').comment('the last poll failure ({code, message, at}); null after a successful poll');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('pems_source_cursor', (t) => {
    t.dropColumn('last_error');
    t.dropColumn('last_polled_at');
    t.dropColumn('full_load_completed_at');
    t.dropColumn('high_water_updated_at');
  });
}
