import type { Knex } from 'knex';

/**
 * The core schema: organizations and users with their rights, the PEMS mirror and its history,
 * and users' modifications. Every table has a primary key: pgoutput (Debezium) cannot emit
 * updates or deletes for a table without one.
 */

export const SYNC_STATUSES = [
  'draft',
  'committed',
  'queued',
  'syncing',
  'synced',
  'conflict',
  'failed',
  'rejected',
  'superseded',
] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('organization', (t) => {
    t.text('id').primary().comment('PEMS organization code, e.g. RIO');
    t.text('name').notNullable();
    t.boolean('sync_enabled').notNullable().defaultTo(false).comment('opt-in to write-back');
    t.text('pems_base_url');
    t.text('pems_tenant');
    t.text('pems_credential_encrypted').comment('AES-256-GCM, v1:<keyId>:<iv>:<tag>:<data>; never plaintext');
    t.timestamps(true, true);
  });

  await knex.schema.createTable('app_user', (t) => {
    t.text('id').primary();
    t.text('username').notNullable().unique();
    t.text('display_name');
    t.text('email');
    t.boolean('is_active').notNullable().defaultTo(true);
    t.timestamps(true, true);
  });

  // perm_sync is the application's perm_Sync; is_admin approves rollbacks.
  await knex.schema.createTable('user_organization', (t) => {
    t.text('user_id').notNullable().references('app_user.id').onDelete('CASCADE');
    t.text('organization_id').notNullable().references('organization.id').onDelete('CASCADE');
    t.boolean('perm_read').notNullable().defaultTo(true);
    t.boolean('perm_sync').notNullable().defaultTo(false);
    t.boolean('is_admin').notNullable().defaultTo(false);
    t.timestamps(true, true);
    t.primary(['user_id', 'organization_id']);
  });

  await knex.schema.createTable('pfa_mirror', (t) => {
    t.text('organization_id').notNullable().references('organization.id');
    t.text('pfa_id').notNullable();
    t.integer('version').notNullable();
    t.jsonb('data').notNullable().comment('the full PEMS record as last seen');
    t.date('forecast_start');
    t.date('forecast_end');
    t.text('category');
    t.text('source');
    t.text('dor');
    t.boolean('is_discontinued').notNullable().defaultTo(false);
    t.timestamp('pems_updated_at', { useTz: true });
    t.timestamp('last_synced_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['organization_id', 'pfa_id']);
    t.index(['organization_id', 'category']);
    t.index(['organization_id', 'pems_updated_at']);
  });

  await knex.schema.createTable('pfa_mirror_history', (t) => {
    t.bigIncrements('id').primary();
    t.text('organization_id').notNullable().references('organization.id');
    t.text('pfa_id').notNullable();
    t.integer('version').notNullable();
    t.jsonb('data').notNullable();
    t.text('changed_by').comment("PEMS's updatedBy for this version");
    t.timestamp('pems_updated_at', { useTz: true });
    t.text('origin').notNullable().defaultTo('pems').comment('pems (read side) | sync (our write) | seed');
    t.specificType('modification_ids', 'uuid[]');
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['organization_id', 'pfa_id', 'version']);
  });

  await knex.schema.createTable('pfa_modification', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('organization_id').notNullable().references('organization.id');
    t.text('pfa_id').notNullable();
    t.text('user_id').notNullable().references('app_user.id');
    t.text('operation').notNullable().defaultTo('update');
    t.jsonb('delta').notNullable().defaultTo('{}');
    t.integer('base_version').notNullable();
    t.text('change_reason');
    t.text('sync_status').notNullable().defaultTo('draft');
    t.jsonb('sync_error');
    t.integer('pems_version_after');
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('origin').notNullable().defaultTo('user').comment('user | conflict_resolution | rollback | replay');
    t.uuid('supersedes_id').references('pfa_modification.id');
    t.timestamp('committed_at', { useTz: true });
    t.timestamp('synced_at', { useTz: true });
    t.timestamps(true, true);
    t.index(['organization_id', 'pfa_id', 'created_at']);
    t.index(['sync_status']);
  });
  await knex.raw(
    `ALTER TABLE pfa_modification ADD CONSTRAINT pfa_modification_status_check CHECK (sync_status IN (${SYNC_STATUSES.map(
      (s) => `'${s}'`,
    ).join(',')}))`,
  );
  await knex.raw(
    `ALTER TABLE pfa_modification ADD CONSTRAINT pfa_modification_operation_check CHECK (operation IN ('update','delete'))`,
  );
  // REPLICA IDENTITY FULL: Debezium's update events then carry `before`, so the sink can tell a
  // transition *into* committed from its own later status updates (Debezium postgres docs, "Replica identity").
  await knex.raw('ALTER TABLE pfa_modification REPLICA IDENTITY FULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('pfa_modification');
  await knex.schema.dropTableIfExists('pfa_mirror_history');
  await knex.schema.dropTableIfExists('pfa_mirror');
  await knex.schema.dropTableIfExists('user_organization');
  await knex.schema.dropTableIfExists('app_user');
  await knex.schema.dropTableIfExists('organization');
}
