import type { Knex } from 'knex';

/**
 * The sink's outbox: result and dead-letter records written in the same transaction as the
 * outcome they report, produced to Kafka after the commit and deleted once acknowledged. A
 * crash between the commit and the produce loses nothing: the next start emits what is left.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sink_outbox', (t) => {
    t.bigIncrements('id').primary();
    t.text('kind').notNullable().comment('result | dead_letter');
    t.text('topic').notNullable();
    t.binary('record_key');
    t.jsonb('record_value').comment('result: the SyncResult record, Avro-encoded at emit time');
    t.binary('raw_value').comment('dead_letter: the original bytes');
    t.jsonb('record_headers').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('sink_outbox');
}
