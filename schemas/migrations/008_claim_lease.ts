import type { Knex } from 'knex';

/**
 * Claims with an owner. A sink instance claims a modification (committed → syncing) under its
 * own id and keeps a heartbeat row while it runs; another instance that receives the same event
 * (a rebalance moved the partition while the work was in flight) leaves a claim alone while its
 * owner's heartbeat is fresh, and takes it over once the owner is gone (stopped: its row is
 * deleted; killed: its heartbeat lapses after the lease). Without an owner every 'syncing'
 * modification looked abandoned, and a rebalance made the new owner redo work in hand.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sink_instance', (t) => {
    t.text('id').primary();
    t.text('host').notNullable();
    t.integer('pid').notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('heartbeat_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.alterTable('pfa_modification', (t) => {
    t.text('claimed_by').nullable().comment('sink_instance.id that claimed it (meaningful while syncing)');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('pfa_modification', (t) => t.dropColumn('claimed_by'));
  await knex.schema.dropTableIfExists('sink_instance');
}
