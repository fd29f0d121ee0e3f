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
import { CdcPosition, Delta, Modification, ModificationOperation, comparePositions } from './modification';

/** PEMS POST /pfa/batch takes at most 100 items (413 BATCH_TOO_LARGE above). */
export const PEMS_BATCH_LIMIT = 100;

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
 * Groups items by PFA. Groups come out in order of each PFA's first item; items inside a group
 * are sorted by position (stable), so a batch that arrives out of order is still replayed in
 * commit order.
 */
export function groupByPfa<T extends WorkItem>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = pfaKey(item.modification.organizationId, item.modification.pfaId);
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  for (const g of groups.values()) g.sort((a, b) => comparePositions(a.position, b.position));
  return groups;
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
  const changes: Delta = {};
  const userIds: string[] = [];
  let baseVersion = first.modification.baseVersion;
  let traceId: string | null = null;
  for (const { modification: m, traceId: t } of items) {
    if (m.organizationId !== organizationId || m.pfaId !== pfaId) {
      throw new TypeError(`fold: modifications of different PFAs (${pfaId}, ${m.pfaId})`);
    }
    // Later wins per field: a delete-then-reassign of a key moves it to the end, which keeps
    // the object's key order equal to the order the fields were last touched.
    for (const [field, value] of Object.entries(m.delta)) {
      delete changes[field];
      changes[field] = value;
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
    changes,
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

/** Splits into chunks of at most `size` (default 100, the PEMS batch limit), order kept. */
export function chunk<T>(items: readonly T[], size: number = PEMS_BATCH_LIMIT): T[][] {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * POST /pfa/batch carries one organizationCode (and the credential is per organization), so
 * batches are per organization first, then cut at the PEMS limit. Only updates belong in a
 * batch; deletes go through DELETE /pfa/{id} and are returned apart.
 */
export function toPemsBatches(
  writes: readonly CoalescedWrite[],
  size: number = PEMS_BATCH_LIMIT,
): { batches: { organizationId: string; writes: CoalescedWrite[] }[]; deletes: CoalescedWrite[] } {
  const byOrg = new Map<string, CoalescedWrite[]>();
  const deletes: CoalescedWrite[] = [];
  for (const w of writes) {
    if (w.operation === 'delete') {
      deletes.push(w);
      continue;
    }
    const list = byOrg.get(w.organizationId);
    if (list) list.push(w);
    else byOrg.set(w.organizationId, [w]);
  }
  const batches: { organizationId: string; writes: CoalescedWrite[] }[] = [];
  for (const [organizationId, list] of byOrg) {
    for (const c of chunk(list, size)) batches.push({ organizationId, writes: c });
  }
  return { batches, deletes };
}

export interface PfaPlan {
  key: string;
  organizationId: string;
  pfaId: string;
  /** This PFA's writes in commit order; write i+1 must wait for write i's outcome. */
  writes: CoalescedWrite[];
}

export interface BatchPlan {
  pfas: PfaPlan[];
  /**
   * rounds[i] = the i-th write of every PFA that has one. An edge runs one round at a time:
   * a PFA whose write is retrying simply stops taking part in later rounds, which keeps its
   * later edits behind it while other PFAs go on.
   */
  rounds: CoalescedWrite[][];
}

/** Builds the per-PFA plan for the work items of one Kafka batch. */
export function planBatch(items: readonly WorkItem[]): BatchPlan {
  const pfas: PfaPlan[] = [];
  for (const [key, group] of groupByPfa(items)) {
    const head = group[0]!.modification;
    pfas.push({ key, organizationId: head.organizationId, pfaId: head.pfaId, writes: coalesce(group) });
  }
  const rounds: CoalescedWrite[][] = [];
  const depth = Math.max(0, ...pfas.map((p) => p.writes.length));
  for (let i = 0; i < depth; i++) {
    rounds.push(pfas.flatMap((p) => (p.writes[i] ? [p.writes[i]!] : [])));
  }
  return { pfas, rounds };
}

/**
 * The offset to commit for one partition, given the offsets of the batch and the ones whose
 * outcome is durable: one past the end of the contiguous done prefix (Kafka commits the *next*
 * offset to read; Debezium's JdbcSinkConnectorTask.markProcessed stores offset + 1). Null when
 * nothing new is committable. Offsets are decimal strings (int64-safe).
 */
export function committableOffset(batchOffsets: readonly string[], done: ReadonlySet<string>): string | null {
  const sorted = [...batchOffsets].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
  let last: string | null = null;
  for (const o of sorted) {
    if (!done.has(o)) break;
    last = o;
  }
  return last === null ? null : (BigInt(last) + 1n).toString();
}
