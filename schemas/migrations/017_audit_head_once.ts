import type { Knex } from 'knex';

/**
 * The audit-chain trigger writes the hot chain-head row once per entry, not twice (issue 16).
 *
 * Before (migration 010): each entry's trigger locked the organization's audit_chain_head row
 * with an upsert whose conflict branch is a no-op UPDATE (a new row version), then updated the
 * row again with the entry's hash: two versions of one hot row per entry, both waiting for the
 * same page, so a flush of 100 outcomes churned 200+ versions of one row.
 *
 * After: the trigger locks the row with SELECT ... FOR UPDATE (a lock, no new version; the
 * transaction usually holds it already, appendSigned took it), inserts it only when the
 * organization has none yet, and updates it once. Order and the hash are unchanged: the lock is
 * the same row lock, taken before the previous hash is read.
 */
export const CHAIN_FUNCTION = (lockHead: string): string => `
  CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE prev text;
  BEGIN
    ${lockHead}
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
`;

export const LOCK_ONCE = `
    SELECT last_hash INTO prev FROM audit_chain_head WHERE organization_id = NEW.organization_id FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO audit_chain_head (organization_id, last_id, last_hash)
        VALUES (NEW.organization_id, 0, repeat('0', 64))
        ON CONFLICT (organization_id) DO NOTHING;
      SELECT last_hash INTO prev FROM audit_chain_head WHERE organization_id = NEW.organization_id FOR UPDATE;
    END IF;`;

/** Migration 010's: the upsert whose conflict branch rewrites the row. */
const LOCK_BY_UPSERT = `
    INSERT INTO audit_chain_head (organization_id, last_id, last_hash)
      VALUES (NEW.organization_id, 0, repeat('0', 64))
      ON CONFLICT (organization_id) DO UPDATE SET last_id = audit_chain_head.last_id
      RETURNING last_hash INTO prev;`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(CHAIN_FUNCTION(LOCK_ONCE));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(CHAIN_FUNCTION(LOCK_BY_UPSERT));
}
