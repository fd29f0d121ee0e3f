import type { Knex } from 'knex';

/**
 * The write-intent index answers lookups at once instead of after a scan of its pending list
 * (issue 16).
 *
 * pems_write_intent is a queue: every PEMS request inserts its intents and the recorder deletes
 * them a moment later, looking them up by `modification_ids && $recorded` (one key per recorded
 * modification, hundreds per flush). With GIN's default fastupdate every insert went to the
 * index's pending list, and every lookup compared each of its keys with that whole unsorted list:
 * during a 10,000 backlog 80-180 ms per flush, in the recorder's one-at-a-time transaction.
 * Without fastupdate an insert (a one-element array) costs one index descent and a lookup one
 * descent per key.
 */
const INDEX = 'pems_write_intent_modifications';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER INDEX ${INDEX} SET (fastupdate = off)`);
  // What already waits in the pending list moves into the index proper.
  await knex.raw(`SELECT gin_clean_pending_list(?::regclass)`, [INDEX]);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER INDEX ${INDEX} SET (fastupdate = on)`);
}
