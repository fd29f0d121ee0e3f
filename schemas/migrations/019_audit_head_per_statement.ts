import type { Knex } from 'knex';
import { CHAIN_FUNCTION, LOCK_ONCE } from './017_audit_head_once';

/**
 * The audit chain's head row is written once per statement, not once per entry (issue 16).
 *
 * Before (migration 017): the row trigger updated audit_chain_head for every entry. All those
 * row versions belong to one transaction, so none can be pruned before it ends, and each
 * entry's lookup of the head walked every version the entries before it had made: a flush of
 * 200 outcomes spent 12-14 ms in the trigger (60-70 µs per entry, growing with the flush).
 *
 * After: the head is read and locked once per transaction and organization (SELECT ... FOR
 * UPDATE, as before). Each entry's hash is kept in a transaction-local setting named after the
 * organization, which the next entry of the same transaction chains onto; a statement-level
 * trigger then writes the head once, from the entry whose hash is that setting (the last one
 * chained). The setting ends with the transaction and is undone with a rolled-back savepoint,
 * like the entries it describes; when it is absent the head row is read, which is always current
 * at a statement's end. Order, hashes and the head's meaning are unchanged.
 *
 * The setting is no new power: a writer who could set it can already update audit_chain_head
 * (the processes' role may, for the keyed chain's head mac), and a wrong prev_hash is what the
 * verifier reports (connectors/postgres/audit-query.ts).
 *
 * Also dropped: audit_log_modification_id_index, a plain index on modification_id that every entry
 * wrote and that audit_log_modification (modification_id, id) WHERE modification_id IS NOT NULL
 * (migration 013) serves for every lookup by modification.
 */
const SETTING = `'pems_sync.audit_chain_' || md5(NEW.organization_id)`;

const LOCK_PER_TRANSACTION = `
    prev := nullif(current_setting(${SETTING}, true), '');
    IF prev IS NULL THEN
      ${LOCK_ONCE}
    END IF;`;

const ROW_FUNCTION = CHAIN_FUNCTION(LOCK_PER_TRANSACTION).replace(
  'UPDATE audit_chain_head SET last_id = NEW.id, last_hash = NEW.hash WHERE organization_id = NEW.organization_id;',
  `PERFORM set_config(${SETTING}, NEW.hash, true);`,
);

const HEAD_FUNCTION = `
  CREATE OR REPLACE FUNCTION audit_log_chain_head() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE audit_chain_head h SET last_id = n.id, last_hash = n.hash
      FROM audit_log_new n
     WHERE n.organization_id = h.organization_id
       AND n.hash = current_setting('pems_sync.audit_chain_' || md5(h.organization_id), true);
    RETURN NULL;
  END $$;
`;

export async function up(knex: Knex): Promise<void> {
  if (!ROW_FUNCTION.includes('set_config'))
    throw new Error('migration 019: the chain function did not take the setting');
  await knex.raw(ROW_FUNCTION);
  await knex.raw(HEAD_FUNCTION);
  await knex.raw(`
    CREATE TRIGGER audit_log_chain_head AFTER INSERT ON audit_log
      REFERENCING NEW TABLE AS audit_log_new FOR EACH STATEMENT EXECUTE FUNCTION audit_log_chain_head()`);
  await knex.raw('DROP INDEX IF EXISTS audit_log_modification_id_index');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS audit_log_modification_id_index ON audit_log (modification_id)');
  await knex.raw('DROP TRIGGER IF EXISTS audit_log_chain_head ON audit_log');
  await knex.raw('DROP FUNCTION IF EXISTS audit_log_chain_head()');
  await knex.raw(CHAIN_FUNCTION(LOCK_ONCE));
}
