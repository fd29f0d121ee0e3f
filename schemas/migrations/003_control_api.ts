import type { Knex } from 'knex';

/**
 * What the control API adds: delivery bookkeeping for operator webhooks (at-least-once, with
 * retries and backoff) and indexes for the audit trail queries (by actor, by event type).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notification', (t) => {
    t.timestamp('delivered_at', { useTz: true }).comment('when every operator webhook accepted it; null: not yet');
    t.integer('delivery_attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).comment(
      'earliest next delivery try (backoff, or the lease of a dispatcher)',
    );
    t.text('last_delivery_error');
  });
  // Only undelivered operator rows are ever scanned by the dispatcher.
  await knex.raw(
    `CREATE INDEX notification_operator_pending ON notification (id) WHERE user_id IS NULL AND delivered_at IS NULL`,
  );
  await knex.schema.alterTable('audit_log', (t) => {
    t.index(['organization_id', 'actor', 'id'], 'audit_log_org_actor');
    t.index(['organization_id', 'event_type', 'id'], 'audit_log_org_event_type');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_log', (t) => {
    t.dropIndex([], 'audit_log_org_actor');
    t.dropIndex([], 'audit_log_org_event_type');
  });
  await knex.raw('DROP INDEX IF EXISTS notification_operator_pending');
  await knex.schema.alterTable('notification', (t) => {
    t.dropColumn('last_delivery_error');
    t.dropColumn('next_attempt_at');
    t.dropColumn('delivery_attempts');
    t.dropColumn('delivered_at');
  });
}
