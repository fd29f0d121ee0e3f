/**
 * A PFA's timeline for the console: PEMS versions (mirror history), edits, conflicts, rollback
 * requests and audit entries (replays among them), as one list in time order.
 */
import type { Knex } from 'knex';

export type TimelineKind = 'version' | 'edit' | 'conflict' | 'replay' | 'rollback' | 'audit';
export const TIMELINE_KINDS: readonly TimelineKind[] = ['version', 'edit', 'conflict', 'replay', 'rollback', 'audit'];

export interface TimelineItem {
  at: Date;
  kind: TimelineKind;
  title: string;
  detail: string;
  /** A console path this item is about (an edit, a conflict, a rollback request), or null. */
  href: string | null;
  /** For PEMS versions: the version number (rollback target). */
  version?: number;
}

export async function readTimeline(
  db: Knex,
  organizationId: string,
  pfaId: string,
  limitPerKind = 500,
): Promise<TimelineItem[]> {
  const w = { organization_id: organizationId, pfa_id: pfaId };
  const [versions, edits, conflicts, rollbacks, audit] = await Promise.all([
    db('pfa_mirror_history')
      .where(w)
      .orderBy('id')
      .limit(limitPerKind)
      .select('version', 'changed_by', 'origin', 'recorded_at', 'pems_updated_at'),
    db('pfa_modification')
      .where(w)
      .whereNot('sync_status', 'draft')
      .orderBy('created_at')
      .limit(limitPerKind)
      .select('id', 'user_id', 'delta', 'sync_status', 'pems_version_after', 'origin', 'committed_at', 'created_at'),
    db('sync_conflict')
      .where(w)
      .orderBy('created_at')
      .limit(limitPerKind)
      .select('id', 'fields', 'status', 'resolution', 'resolved_by', 'pems_version', 'created_at'),
    db('rollback_request')
      .where(w)
      .orderBy('created_at')
      .limit(limitPerKind)
      .select(
        'id',
        'target_version',
        'from_version',
        'requested_by',
        'reason',
        'status',
        'decided_by',
        'decision_reason',
        'created_at',
        'decided_at',
      ),
    db('audit_log')
      .where(w)
      .whereNot('event_type', 'sync.write')
      .orderBy('id')
      .limit(limitPerKind)
      .select('event_type', 'actor', 'details', 'modification_id', 'created_at'),
  ]);
  const out: TimelineItem[] = [];
  for (const v of versions as Array<Record<string, any>>) {
    out.push({
      at: new Date(v.pems_updated_at ?? v.recorded_at),
      kind: 'version',
      title: `PEMS version ${v.version}`,
      detail: `${v.changed_by ? `by ${v.changed_by}` : 'author not known'} (${v.origin === 'sync' ? 'written by pems-sync' : v.origin === 'seed' ? 'loaded' : 'changed in PEMS'})`,
      href: null,
      version: Number(v.version),
    });
  }
  for (const e of edits as Array<Record<string, any>>) {
    const where = e.sync_status === 'synced' ? `applied as PEMS version ${e.pems_version_after}` : e.sync_status;
    out.push({
      at: new Date(e.committed_at ?? e.created_at),
      kind: 'edit',
      title: `${e.origin === 'user' ? 'Edit' : e.origin.replace('_', ' ')} by ${e.user_id}`,
      detail: `${JSON.stringify(e.delta)}: ${where}`,
      href: `/console/search?q=${e.id}`,
    });
  }
  for (const c of conflicts as Array<Record<string, any>>) {
    const fields = (c.fields as Array<{ field: string }>).map((f) => f.field).join(', ');
    out.push({
      at: new Date(c.created_at),
      kind: 'conflict',
      title: `Conflict on ${fields} (PEMS version ${c.pems_version})`,
      detail: c.status === 'resolved' ? `resolved with ${c.resolution} by ${c.resolved_by}` : c.status,
      href: `/console/conflicts/${c.id}`,
    });
  }
  for (const r of rollbacks as Array<Record<string, any>>) {
    out.push({
      at: new Date(r.created_at),
      kind: 'rollback',
      title: `Rollback to version ${r.target_version} requested by ${r.requested_by}`,
      detail: `${r.reason} (${r.status}${r.decided_by ? ` by ${r.decided_by}` : ''}${r.decision_reason ? `: ${r.decision_reason}` : ''})`,
      href: `/console/rollbacks/${r.id}`,
    });
  }
  for (const a of audit as Array<Record<string, any>>) {
    const kind: TimelineKind = a.event_type === 'deadletter.replayed' ? 'replay' : 'audit';
    const reason = typeof a.details?.reason === 'string' ? `: ${a.details.reason}` : '';
    out.push({
      at: new Date(a.created_at),
      kind,
      title: `${a.event_type} by ${a.actor}`,
      detail: `${a.modification_id ? `edit ${a.modification_id}` : ''}${reason}`,
      href: a.modification_id ? `/console/search?q=${a.modification_id}` : null,
    });
  }
  return out.sort((x, y) => x.at.getTime() - y.at.getTime());
}
