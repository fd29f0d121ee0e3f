/**
 * Groups decoded work per PFA, keeps commit order inside each PFA, and folds runs of updates
 * into one PEMS write. Pure: plain data in, plain data out.
 *
 * Ordering: Debezium keys the CDC topic by (organization_id, pfa_id) (message.key.columns), so
 * all edits of one PFA are on one partition in commit order. Within a Kafka batch we keep that
 * order per PFA; across PFAs order does not matter and writes may run concurrently.
 *
 * Deletes: like Debezium's JDBC sink (JdbcChangeEventSink / RecordBuffer), pending updates of a
 * key are flushed before a delete of that key, and an update after a delete starts a new buffer.
 * A delete is never folded into an update: it is a different PEMS call (DELETE /pfa/{id}).
 */
import { CdcPosition, Delta, Modification, ModificationOperation } from './modification';

export interface WorkItem {
  modification: Modification;
  position: CdcPosition;
  traceId?: string | null;
}

/** One write to PEMS made from one or more modifications of the same PFA. */
export interface CoalescedWrite {
  key: string;
  organizationId: string;
  pfaId: string;
  operation: ModificationOperation;
  /** Merged deltas: for each field, the value of the latest modification that set it. */
  changes: Delta;
  /** Every modification folded in, in commit order (the first is the "primary"). */
  modificationIds: string[];
  /** modifiedBy / changeReason of the last modification (PEMS keeps one per write). */
  modifiedBy: string;
  changeReason: string | null;
  /** Distinct users in order of their first modification, for the audit trail. */
  userIds: string[];
  /**
   * Smallest base version of the run: the conflict check then compares PEMS's changes since the
   * oldest edit anyone in the run saw, which is the conservative choice.
   */
  baseVersion: number;
  /** Positions of the folded events, in order; the edge resolves them once the outcome is recorded. */
  positions: CdcPosition[];
  /** Trace id of the last traced modification, if any. */
  traceId: string | null;
}

/** Stable key for a PFA; JSON avoids collisions a separator could cause ("A:B" + "C" vs "A" + "B:C"). */
export function pfaKey(organizationId: string, pfaId: string): string {
  return JSON.stringify([organizationId, pfaId]);
}

/**
 * Cuts one PFA's ordered modifications into runs that can each be one write: consecutive
 * updates form a run; each delete stands alone (flush before it, start anew after it).
 * Consecutive deletes are not merged either: each carries its own base version and reason,
 * and a second soft delete is a cheap no-op for PEMS.
 */
export function segment<T extends WorkItem>(items: readonly T[]): T[][] {
  const runs: T[][] = [];
  let current: T[] = [];
  for (const item of items) {
    if (item.modification.operation === 'delete') {
      if (current.length > 0) runs.push(current);
      runs.push([item]);
      current = [];
    } else {
      current.push(item);
    }
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

/**
 * Folds one run (all updates of one PFA, or a single delete) into one write. Throws on input
 * that the callers must never produce (empty, mixed PFAs, a delete inside an update run):
 * those are bugs, and TypeError is what retry.classify treats as a bug.
 */
export function fold(items: readonly WorkItem[]): CoalescedWrite {
  const first = items[0];
  if (first === undefined) throw new TypeError('fold: empty run');
  const { organizationId, pfaId } = first.modification;
  const hasDelete = items.some((i) => i.modification.operation === 'delete');
  if (hasDelete && items.length > 1) throw new TypeError('fold: a delete is never merged with other modifications');
  const changes = new Map<string, unknown>();
  const userIds: string[] = [];
  let baseVersion = first.modification.baseVersion;
  let traceId: string | null = null;
  for (const { modification: m, traceId: t } of items) {
    if (m.organizationId !== organizationId || m.pfaId !== pfaId) {
      throw new TypeError(`fold: modifications of different PFAs (${pfaId}, ${m.pfaId})`);
    }
    // Later wins per field: a delete-then-set of a key moves it to the end, which keeps the
    // map's (and so the delta's) key order equal to the order the fields were last touched.
    for (const [field, value] of Object.entries(m.delta)) {
      changes.delete(field);
      changes.set(field, value);
    }
    if (!userIds.includes(m.userId)) userIds.push(m.userId);
    baseVersion = Math.min(baseVersion, m.baseVersion);
    if (t) traceId = t;
  }
  const last = items[items.length - 1]!.modification;
  return {
    key: pfaKey(organizationId, pfaId),
    organizationId,
    pfaId,
    operation: first.modification.operation,
    changes: Object.fromEntries(changes),
    modificationIds: items.map((i) => i.modification.id),
    modifiedBy: last.userId,
    changeReason: last.changeReason,
    userIds,
    baseVersion,
    positions: items.map((i) => i.position),
    traceId,
  };
}

/** One PFA's ordered modifications → its writes, in order (segment + fold). */
export function coalesce(items: readonly WorkItem[]): CoalescedWrite[] {
  return segment(items).map(fold);
}
