/**
 * The sink's ledger of where every fetched event stands, so that only durable work is committed:
 * per partition, the offsets read and those whose outcome is recorded (streams/offsets.ts);
 * the modifications in work here, with the positions of their redeliveries; and the events that
 * wait for another instance (it holds their claim) or behind an earlier edit of their PFA that
 * waits, or whose row was not visible yet when it was claimed (streams/visibility.ts). The
 * recorder reports durability to it (markDone, wired in index.ts); the task asks it what to
 * commit, what to take over and what to claim again. No I/O.
 */
import { pfaKey } from '../../streams/grouping';
import { comparePositions, type CdcPosition } from '../../streams/modification';
import { PartitionOffsets } from '../../streams/offsets';
import {
  DEFAULT_VISIBILITY_POLICY,
  firstVisibilityWait,
  nextVisibilityWait,
  visibilityGivenUp,
  type VisibilityPolicy,
  type VisibilityWait,
} from '../../streams/visibility';
import type { LaneItem } from './work';

export interface Committable {
  topic: string;
  partition: number;
  offset: string;
}

export class OffsetLedger {
  private readonly offsets = new Map<string, PartitionOffsets>();
  /**
   * Modifications queued in this process and not yet recorded, with the positions of their
   * redeliveries (a consumer restart or a partition coming back re-reads from the last commit):
   * a redelivered event waits for the work in hand instead of doing it a second time.
   */
  private readonly working = new Map<string, CdcPosition[]>();
  /**
   * Events whose modification another live instance is working on (a rebalance moved the
   * partition mid-work): their offsets stay uncommitted until that outcome is recorded, or they
   * are claimed here once that instance is gone.
   */
  private readonly waiting = new Map<string, LaneItem>();
  /**
   * Items taken from `waiting` whose dispatch (claim, context, enqueue) is under way: a later
   * event of their PFA fetched meanwhile waits behind them too, or it could reach the lane first.
   */
  private readonly taking = new Set<LaneItem>();
  /**
   * Waiting events whose modification was not visible as claimable (not found, or not yet
   * committed) when claimed: they are claimed again on this schedule, never marked done without
   * an outcome or, once the policy gives up, a dead letter.
   */
  private readonly unseen = new Map<string, VisibilityWait>();
  private assigned = new Set<string>();

  constructor(private readonly visibility: VisibilityPolicy = DEFAULT_VISIBILITY_POLICY) {}

  /**
   * The partitions now assigned ("topic:partition"). Partitions taken away: their work may still
   * finish and record (guarded, idempotent), but their offsets are no longer ours to commit; the
   * new owner redelivers from the last commit.
   */
  assign(now: ReadonlySet<string>): void {
    for (const tp of this.assigned) if (!now.has(tp)) this.offsets.delete(tp);
    for (const [id, w] of this.waiting)
      if (!now.has(`${w.position.topic}:${w.position.partition}`)) {
        this.waiting.delete(id);
        this.unseen.delete(id);
      }
    this.assigned = new Set(now);
  }

  assignment(): string[] {
    return [...this.assigned].sort();
  }

  private tracker(topic: string, partition: number): PartitionOffsets {
    const k = `${topic}:${partition}`;
    let t = this.offsets.get(k);
    if (!t) {
      t = new PartitionOffsets();
      this.offsets.set(k, t);
    }
    return t;
  }

  /** An offset was read (ascending per partition). */
  track(topic: string, partition: number, offset: string): void {
    this.tracker(topic, partition).track(offset);
  }

  /** Offsets of a partition that need no work (skips, other deployments' organizations). */
  markOffsetsDone(topic: string, partition: number, offsets: readonly string[]): void {
    const t = this.tracker(topic, partition);
    for (const o of offsets) t.markDone(o);
  }

  /**
   * Marks positions durable (the recorder, after commit + emit), with the modifications whose
   * outcomes they carry: redeliveries of those that arrived while they were in flight are done too.
   */
  markDone(positions: ReadonlyArray<CdcPosition>, modificationIds: readonly string[] = []): void {
    const all = [...positions];
    for (const id of modificationIds) {
      const extra = this.working.get(id);
      if (extra) all.push(...extra);
      this.working.delete(id);
    }
    for (const p of all) this.offsets.get(`${p.topic}:${p.partition}`)?.markDone(p.offset);
  }

  /** Per partition, the offset after the durable prefix, where it moved. */
  committable(): Committable[] {
    const out: Committable[] = [];
    for (const [tp, tracker] of this.offsets) {
      const next = tracker.takeCommittable();
      if (next === null) continue;
      const i = tp.lastIndexOf(':');
      out.push({ topic: tp.slice(0, i), partition: Number(tp.slice(i + 1)), offset: next });
    }
    return out;
  }

  waitingCount(): number {
    return this.waiting.size;
  }

  /** Waiting for another instance (not those waiting to become visible: claimed again on their own schedule). */
  waitingIds(): string[] {
    return [...this.waiting.keys()].filter((id) => !this.unseen.has(id));
  }

  /**
   * Sorts a claimed batch: what waits (held by another instance, or behind an earlier edit of
   * its PFA that waits), what is done already (an outcome exists, or this process works on it),
   * and what is live. `released`: claims to give back (the items now wait behind another).
   * `repeats`: for each live modification, the positions of its other events in this batch.
   * `unseen`: not visible as claimable yet (claims.ts): they wait and are claimed again.
   */
  sort(
    work: readonly LaneItem[],
    claimed: ReadonlySet<string>,
    held: ReadonlySet<string>,
    unseen: ReadonlySet<string> = new Set(),
    now: number = Date.now(),
  ): { live: LaneItem[]; released: string[]; repeats: Map<string, CdcPosition[]> } {
    const live: LaneItem[] = [];
    const released: string[] = [];
    const inWork = new Set(work);
    const repeats = new Map<string, CdcPosition[]>();
    for (const w of work) {
      const id = w.modification.id;
      // Another live instance works on it: wait for its outcome (offset held back meanwhile).
      // When this event now stands for one that waited to become visible, it is held, not unseen.
      if (held.has(id)) {
        this.wait(w);
        if (this.waiting.get(id) === w) this.unseen.delete(id);
      }
      // Not visible yet: wait, and claim it again on the policy's schedule.
      else if (unseen.has(id)) {
        this.wait(w);
        const s = this.unseen.get(id);
        if (!s) this.unseen.set(id, firstVisibilityWait(now, this.visibility));
        else if (s.dueAt <= now) this.unseen.set(id, nextVisibilityWait(s, now, this.visibility));
      }
      // Events of modifications that already have an outcome (redelivery) need nothing more.
      else if (!claimed.has(id)) this.markDone([w.position]);
      // Redelivered while this process still works on it, or twice in this batch: done with it.
      else if (this.working.has(id)) this.working.get(id)!.push(w.position);
      else if (repeats.has(id)) repeats.get(id)!.push(w.position);
      // A later edit of a PFA whose earlier edit waits for another instance waits behind it, its
      // claim given back (so whoever owns the partition next can take it): written first, it
      // would be overwritten by the earlier one (the rebalance scenario's outcome_mismatch).
      else if (behindAny(w, [...this.waiting.values(), ...[...this.taking].filter((t) => !inWork.has(t))])) {
        this.waiting.set(id, w);
        released.push(id);
      } else {
        repeats.set(id, []);
        live.push(w);
      }
      // An event of it that still waits to become visible is claimed again on its schedule (and
      // then joins this work, or finds its outcome); with none waiting, the schedule ends.
      if (!this.waiting.has(id)) this.unseen.delete(id);
    }
    return { live, released, repeats };
  }

  /**
   * One event waiting per modification. A later event of it stands for both: the earlier one is
   * done. The same event again (a redelivery after a rebalance or a failed put re-reads from the
   * last commit) is still one event waiting: marking its offset done would let the commit pass an
   * edit nobody has an outcome for, and whoever owns the partition next would never see it.
   */
  private wait(w: LaneItem): void {
    const id = w.modification.id;
    const before = this.waiting.get(id);
    const order = before ? comparePositions(before.position, w.position) : -1;
    if (order < 0) {
      if (before) this.markDone([before.position]);
      this.waiting.set(id, w);
    } else if (order > 0) this.markDone([w.position]);
  }

  /** A live modification is now in hand here until its outcome is durable. */
  startWorking(modificationId: string, repeats: CdcPosition[]): void {
    this.working.set(modificationId, repeats);
  }

  /**
   * The verdict on waiting events (claims.check): settled ones are done; takeable ones are taken
   * (moved to `taking`, in position order) unless they wait behind an earlier edit of their PFA
   * that another live instance still holds: taking it would write it before that earlier one.
   */
  takeover(verdict: { settled: readonly string[]; takeable: readonly string[]; held: readonly string[] }): LaneItem[] {
    for (const id of verdict.settled) {
      const w = this.waiting.get(id)!;
      this.waiting.delete(id);
      this.markDone([w.position]);
    }
    const heldIds = new Set(verdict.held);
    // Earlier edits not visible yet block too: they are claimed again on their own schedule.
    const heldItems = [...this.waiting.values()].filter(
      (w) => heldIds.has(w.modification.id) || this.unseen.has(w.modification.id),
    );
    const take = verdict.takeable
      .map((id) => this.waiting.get(id)!)
      .filter((w) => !behindAny(w, heldItems))
      .sort((a, b) => comparePositions(a.position, b.position));
    for (const w of take) {
      this.waiting.delete(w.modification.id);
      this.taking.add(w);
    }
    return take;
  }

  /**
   * Waiting events due to be claimed again (not visible at their last claim), moved to `taking`
   * in position order; and those looked for as long as the policy allows, removed: the caller
   * dead-letters them (their offsets are done once the dead letter is durable).
   */
  dueUnseen(now: number = Date.now()): { retry: LaneItem[]; giveUp: Array<{ item: LaneItem; wait: VisibilityWait }> } {
    const retry: LaneItem[] = [];
    const giveUp: Array<{ item: LaneItem; wait: VisibilityWait }> = [];
    for (const [id, s] of this.unseen) {
      const w = this.waiting.get(id);
      if (!w || s.dueAt > now) continue;
      this.waiting.delete(id);
      if (visibilityGivenUp(s, now, this.visibility)) {
        this.unseen.delete(id);
        giveUp.push({ item: w, wait: s });
      } else {
        this.taking.add(w);
        retry.push(w);
      }
    }
    retry.sort((a, b) => comparePositions(a.position, b.position));
    return { retry, giveUp };
  }

  /** When the next waiting event not visible yet is due to be claimed again (ms since the epoch), or null. */
  nextUnseenDue(): number | null {
    let next: number | null = null;
    for (const [id, s] of this.unseen) if (this.waiting.has(id) && (next === null || s.dueAt < next)) next = s.dueAt;
    return next;
  }

  /**
   * Taking over (or claiming again) failed: the items wait again (nothing was marked done before
   * it was claimed and queued); those not visible yet are looked for again later.
   */
  waitAgain(items: readonly LaneItem[], now: number = Date.now()): void {
    for (const w of items) {
      const id = w.modification.id;
      this.wait(w);
      const s = this.unseen.get(id);
      if (s && s.dueAt <= now) this.unseen.set(id, nextVisibilityWait(s, now, this.visibility));
    }
  }

  /** The dispatch of taken-over items ended, either way. */
  taken(items: readonly LaneItem[]): void {
    for (const w of items) this.taking.delete(w);
  }
}

/** An earlier edit of the same PFA (same partition: offsets compare) is among `before`. */
function behindAny(w: LaneItem, before: readonly LaneItem[]): boolean {
  const key = pfaKey(w.modification.organizationId, w.modification.pfaId);
  return before.some(
    (b) =>
      b !== w &&
      b.modification.id !== w.modification.id &&
      pfaKey(b.modification.organizationId, b.modification.pfaId) === key &&
      comparePositions(b.position, w.position) < 0,
  );
}
