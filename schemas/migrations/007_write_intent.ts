import type { Knex } from 'knex';

/**
 * Write-ahead intents of the sink: the exact PEMS batch item (body and idempotency key) is
 * stored before it is sent, and removed when the outcome is recorded. A sink killed after PEMS
 * applied a write but before recording it leaves the intent behind; the next owner re-sends
 * that exact item first, PEMS replays the first outcome (idempotency), and the write is
 * recorded as what it was — not mistaken for a conflict when PEMS moved on afterwards.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('pems_write_intent', (t) => {
    t.text('idempotency_key').primary();
    t.text('organization_id').notNullable();
    t.text('pfa_id').notNullable();
    t.specificType('modification_ids', 'uuid[]').notNullable();
    t.jsonb('item').notNullable().comment('the POST /pfa/batch item as last sent');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('CREATE INDEX pems_write_intent_modifications ON pems_write_intent USING gin (modification_ids)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('pems_write_intent');
}
