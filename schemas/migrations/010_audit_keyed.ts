import type { Knex } from 'knex';

/**
 * The keyed audit chain (issue 13, item 2; streams/audit-mac.ts): every entry gets an HMAC the
 * application computes with a key the database never holds, chained per organization; the
 * chain head gets its own HMAC. The sha256 chain of migration 002 stays (evidence anyone can
 * recompute), but it proves nothing against someone who can write the database.
 *
 * - audit_log.mac / mac_key_id; audit_chain_head.last_mac / head_mac / mac_key_id.
 * - the chain trigger keeps an entry's created_at when the application set it together with a
 *   mac (taken from clock_timestamp() under the head lock, so order holds); unkeyed inserts
 *   behave as before.
 * - TRUNCATE of audit_log or audit_chain_head is refused like UPDATE and DELETE.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_log', (t) => {
    t.text('mac').comment(
      'HMAC-SHA256 of the entry and the previous mac (streams/audit-mac.ts); null: written unkeyed',
    );
    t.text('mac_key_id').comment('audit.keys id that signed it');
  });
  await knex.schema.alterTable('audit_chain_head', (t) => {
    t.text('last_mac');
    t.text('head_mac').comment('HMAC over (organization, last_id, last_mac)');
    t.text('mac_key_id');
  });
  await knex.raw(`
    CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE prev text;
    BEGIN
      INSERT INTO audit_chain_head (organization_id, last_id, last_hash)
        VALUES (NEW.organization_id, 0, repeat('0', 64))
        ON CONFLICT (organization_id) DO UPDATE SET last_id = audit_chain_head.last_id
        RETURNING last_hash INTO prev;
      IF NEW.mac IS NULL THEN
        NEW.created_at := clock_timestamp();
      END IF;
      NEW.prev_hash := prev;
      NEW.hash := encode(sha256(convert_to(
        prev || '|' || NEW.id::text || '|' || NEW.organization_id || '|' || coalesce(NEW.pfa_id, '') || '|' ||
        coalesce(NEW.modification_id::text, '') || '|' || NEW.actor || '|' || NEW.event_type || '|' ||
        NEW.details::text || '|' || coalesce(NEW.pems_response::text, '') || '|' ||
        to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'UTF8')), 'hex');
      UPDATE audit_chain_head SET last_id = NEW.id, last_hash = NEW.hash WHERE organization_id = NEW.organization_id;
      RETURN NEW;
    END $$;
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS audit_chain_head_no_truncate ON audit_chain_head');
  await knex.raw('DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log');
  await knex.raw(`
    CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
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
  `);
  await knex.schema.alterTable('audit_chain_head', (t) => {
    t.dropColumn('last_mac');
    t.dropColumn('head_mac');
    t.dropColumn('mac_key_id');
  });
  await knex.schema.alterTable('audit_log', (t) => {
    t.dropColumn('mac');
    t.dropColumn('mac_key_id');
  });
}
