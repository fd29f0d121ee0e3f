/**
 * What the alert rules read per organization, folded from per-status row counts: how many
 * modifications wait (committed or syncing), how old the oldest of them is (freshness), and
 * when the organization last got an outcome of any kind. Pure: rows in, figures out.
 */
import { TERMINAL_STATUSES } from './reconcile';

/** Statuses a committed edit passes through before its outcome. */
export const UNSYNCED_STATUSES = ['committed', 'syncing'] as const;

export interface StatusCount {
  organizationId: string;
  status: string;
  count: number;
  oldestCommittedAgeSeconds: number | null;
  newestChangeUnixSeconds: number | null;
}

export interface OrganizationSyncFigures {
  /** Modifications by sync_status. */
  byStatus: Map<string, number>;
  /** Committed or syncing, not yet given an outcome. */
  unsynced: number;
  /** Age of the oldest unsynced edit, seconds; 0 when nothing waits. */
  oldestUnsyncedAgeSeconds: number;
  /**
   * When the newest outcome (synced, conflict, rejected, failed, superseded) was recorded, Unix
   * seconds; null: never.
   */
  lastOutcomeUnixSeconds: number | null;
}

const unsynced: ReadonlySet<string> = new Set(UNSYNCED_STATUSES);
const terminal: ReadonlySet<string> = new Set(TERMINAL_STATUSES);

export function foldSyncFigures(rows: readonly StatusCount[]): Map<string, OrganizationSyncFigures> {
  const out = new Map<string, OrganizationSyncFigures>();
  for (const r of rows) {
    let f = out.get(r.organizationId);
    if (!f) {
      f = { byStatus: new Map(), unsynced: 0, oldestUnsyncedAgeSeconds: 0, lastOutcomeUnixSeconds: null };
      out.set(r.organizationId, f);
    }
    f.byStatus.set(r.status, (f.byStatus.get(r.status) ?? 0) + r.count);
    if (unsynced.has(r.status)) {
      f.unsynced += r.count;
      if (r.oldestCommittedAgeSeconds !== null)
        f.oldestUnsyncedAgeSeconds = Math.max(f.oldestUnsyncedAgeSeconds, r.oldestCommittedAgeSeconds);
    }
    if (terminal.has(r.status) && r.newestChangeUnixSeconds !== null) {
      f.lastOutcomeUnixSeconds = Math.max(f.lastOutcomeUnixSeconds ?? -Infinity, r.newestChangeUnixSeconds);
    }
  }
  return out;
}
