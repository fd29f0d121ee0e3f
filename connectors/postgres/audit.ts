import type { Knex } from 'knex';

/**
 * The audit log is append-only and hash-chained per organization by the database itself
 * (schemas/migrations/002_outcomes.ts): writers only insert.
 */
export interface AuditEntry {
  organizationId: string;
  pfaId?: string | null;
  modificationId?: string | null;
  /** A user id, or `system:<component>` for the connector's own actions. */
  actor: string;
  /** Dotted name: sync.write, sync.outcome, conflict.resolved, rollback.approved, deadletter.replayed... */
  eventType: string;
  details?: Record<string, unknown>;
  pemsResponse?: unknown;
}

export async function appendAudit(db: Knex | Knex.Transaction, entries: AuditEntry | readonly AuditEntry[]): Promise<void> {
  const list = Array.isArray(entries) ? entries : [entries as AuditEntry];
  if (list.length === 0) return;
  // One multi-row insert: the chain trigger runs per row, in order, inside the statement.
  await db('audit_log').insert(
    list.map((e) => ({
      organization_id: e.organizationId,
      pfa_id: e.pfaId ?? null,
      modification_id: e.modificationId ?? null,
      actor: e.actor,
      event_type: e.eventType,
      details: JSON.stringify(e.details ?? {}),
      pems_response: e.pemsResponse === undefined ? null : JSON.stringify(e.pemsResponse),
      prev_hash: '',
      hash: '',
    })),
  );
}
