/** One entry of the audit log as writers hand it over (connectors/postgres/audit.ts appends it). Plain data. */
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
