import type { Knex } from 'knex';

/**
 * What the sink, the read side and people record: conflicts, the audit log (append-only,
 * hash-chained per organization), rollback requests, dead letters, notifications and the
 * read side's cursor.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sync_conflict', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('organization_id').notNullable().references('organization.id');
    t.text('pfa_id').notNullable();
    t.uuid('modification_id').notNullable().references('pfa_modification.id');
    t.integer('base_version').notNullable();
    t.integer('pems_version').notNullable();
    t.jsonb('fields').notNullable().comment('[{field, base, local, pems}] for each conflicting field');
    t.jsonb('auto_merge_fields').notNullable().defaultTo('[]').comment('fields that rebase cleanly');
    t.text('status').notNullable().defaultTo('open');
    t.text('resolution');
    t.text('resolved_by').references('app_user.id');
    t.timestamp('resolved_at', { useTz: true });
    t.uuid('resolution_modification_id').references('pfa_modification.id');
    t.text('detected_by').notNullable().defaultTo('sink').comment('sink | early_warning');
    t.timestamps(true, true);
    t.index(['organization_id', 'status', 'created_at']);
    t.index(['modification_id']);
  });
  await knex.raw(
    `ALTER TABLE sync_conflict ADD CONSTRAINT sync_conflict_status_check CHECK (status IN ('open','resolved','superseded'))`,
  );
  await knex.raw(
    `ALTER TABLE sync_conflict ADD CONSTRAINT sync_conflict_resolution_check CHECK (resolution IS NULL OR resolution IN ('use_local','use_pems','merge'))`,
  );

  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id').primary();
    t.text('organization_id').notNullable().references('organization.id');
    t.text('pfa_id');
    t.uuid('modification_id');
    t.text('actor').notNullable().comment('a user id, or system:<component>');
    t.text('event_type').notNullable();
    t.jsonb('details').notNullable().defaultTo('{}');
    t.jsonb('pems_response');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('prev_hash').notNullable();
    t.text('hash').notNullable();
    t.index(['organization_id', 'created_at']);
    t.index(['organization_id', 'pfa_id']);
    t.index(['modification_id']);
  });
  await knex.schema.createTable('audit_chain_head', (t) => {
    t.text('organization_id').primary().references('organization.id');
    t.bigInteger('last_id').notNullable();
    t.text('last_hash').notNullable();
  });
  // The chain is kept by the database so every writer (sink, control API, read side) gets it
  // right: the head row is locked by the upsert, so concurrent inserts of one organization
  // serialize and each entry's prev_hash is exactly the entry before it.
  await knex.raw(`
    CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE prev text;
    BEGIN
      INSERT INTO audit_chain_head (organization_id, last_id, last_hash)
        VALUES (NEW.organization_id, 0, repeat('0', 64))
        ON CONFLICT (organization_id) DO UPDATE SET last_id = audit_chain_head.last_id
        RETURNING last_hash INTO prev;
      NEW.created_at := clock_timestamp();
      NEW.prev_hash := prev;
      NEW.hash := encode(sha256(convert_to(
        prev || '|' || NEW.id::text || '|' || NEW.organization_id || '|' || coalesce(NEW.pfa_id, '') || '|' ||
        coalesce(NEW.modification_id::text, '') || '|' || NEW.actor || '|' || NEW.event_type || '|' ||
        NEW.details::text || '|' || coalesce(NEW.pems_response::text, '') || '|' ||
        to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'UTF8')), 'hex');
      UPDATE audit_chain_head SET last_id = NEW.id, last_hash = NEW.hash WHERE organization_id = NEW.organization_id;
      RETURN NEW;
    END $$;
    CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
  `);

  await knex.schema.createTable('rollback_request', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('organization_id').notNullable().references('organization.id');
    t.text('pfa_id').notNullable();
    t.integer('target_version').notNullable();
    t.integer('from_version').notNullable();
    t.jsonb('preview').notNullable().comment('field diff against PEMS at request time');
    t.text('reason').notNullable();
    t.text('requested_by').notNullable().references('app_user.id');
    t.text('status').notNullable().defaultTo('pending');
    t.text('decided_by').references('app_user.id');
    t.text('decision_reason');
    t.timestamp('decided_at', { useTz: true });
    t.uuid('modification_id').references('pfa_modification.id');
    t.timestamps(true, true);
    t.index(['organization_id', 'status']);
  });
  await knex.raw(
    `ALTER TABLE rollback_request ADD CONSTRAINT rollback_request_status_check CHECK (status IN ('pending','approved','rejected','applied','failed'))`,
  );
  // Four-eyes: the approver is never the requester.
  await knex.raw(
    `ALTER TABLE rollback_request ADD CONSTRAINT rollback_request_four_eyes CHECK (decided_by IS NULL OR status = 'rejected' OR decided_by <> requested_by)`,
  );

  await knex.schema.createTable('dead_letter', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('organization_id').references('organization.id');
    t.text('pfa_id');
    t.uuid('modification_id');
    t.text('source_topic').notNullable();
    t.integer('source_partition').notNullable();
    t.bigInteger('source_offset').notNullable();
    t.binary('record_key');
    t.binary('record_value');
    t.jsonb('record_headers').notNullable().defaultTo('{}');
    t.text('reason').notNullable();
    t.text('error_code').notNullable();
    t.jsonb('error').notNullable().defaultTo('{}');
    t.text('status').notNullable().defaultTo('open');
    t.text('resolved_by').references('app_user.id');
    t.timestamp('resolved_at', { useTz: true });
    t.text('resolution_reason');
    t.timestamps(true, true);
    t.unique(['source_topic', 'source_partition', 'source_offset', 'modification_id']);
    t.index(['organization_id', 'status', 'created_at']);
  });
  await knex.raw(
    `ALTER TABLE dead_letter ADD CONSTRAINT dead_letter_status_check CHECK (status IN ('open','replayed','discarded'))`,
  );

  await knex.schema.createTable('notification', (t) => {
    t.bigIncrements('id').primary();
    t.text('organization_id').notNullable().references('organization.id');
    t.text('user_id').references('app_user.id').comment('null: for the organization operators');
    t.text('kind').notNullable();
    t.jsonb('payload').notNullable().defaultTo('{}');
    t.timestamp('read_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['user_id', 'read_at']);
  });

  await knex.schema.createTable('pems_source_cursor', (t) => {
    t.text('organization_id').primary().references('organization.id');
    t.timestamp('updated_since', { useTz: true });
    t.text('cursor');
    t.text('mode').notNullable().defaultTo('incremental').comment('full_load | incremental');
    t.integer('records_loaded').notNullable().defaultTo(0);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('pems_source_cursor');
  await knex.schema.dropTableIfExists('notification');
  await knex.schema.dropTableIfExists('dead_letter');
  await knex.schema.dropTableIfExists('rollback_request');
  await knex.raw('DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log');
  await knex.raw('DROP TRIGGER IF EXISTS audit_log_chain ON audit_log');
  await knex.schema.dropTableIfExists('audit_log');
  await knex.raw('DROP FUNCTION IF EXISTS audit_log_append_only()');
  await knex.raw('DROP FUNCTION IF EXISTS audit_log_chain()');
  await knex.schema.dropTableIfExists('audit_chain_head');
  await knex.schema.dropTableIfExists('sync_conflict');
}
