/**
 * The group room, per PFA: one lane per PFA runs its modifications in commit order, folding
 * consecutive ones into a single write (streams/grouping.ts), hands each write to the write room
 * (pems-write.ts) and its outcome to the recorder, without ever holding back other PFAs (every
 * lane runs on its own). A lane's later edits wait behind its earlier ones, so one PFA's writes
 * never overtake each other.
 */
import { coalesce, fold, pfaKey, type CoalescedWrite } from '../../streams/grouping';
import { comparePositions } from '../../streams/modification';
import type { Outcome } from '../../streams/outcomes';
import type { PemsWrite } from './pems-write';
import type { OutcomeEntry, Recorder } from './record';
import type { LaneContext, LaneItem, LaneState, WriteResult } from './work';

export interface LanesOptions {
  write: PemsWrite;
  recorder: Recorder;
  onOutcome?: (
    outcome: Outcome,
    write: CoalescedWrite,
    modificationCount: number,
    modifications: OutcomeEntry['modifications'],
  ) => void;
  /**
   * A lane stopped on an error (its write threw, or the recorder refused an outcome): its
   * modifications stay unrecorded, so the sink stops itself and Kafka redelivers them. Without
   * this the lane's promise had no handler and Node ended the process on the unhandled
   * rejection before the graceful stop ran.
   */
  onFailed: (err: unknown) => void;
}

interface Lane extends LaneState {
  key: string;
  queue: Array<{ item: LaneItem; ctx: LaneContext }>;
  running: Promise<void> | null;
}

/**
 * Idle lanes kept for their `known`/`own` state; past this many the oldest idle ones go (half of
 * them). An idle lane's outcomes are all recorded, so a later edit of its PFA loads the same state
 * from Postgres (the mirror and the sink's own writes, check.ts); each kept lane holds a PFA record,
 * so this bounds memory through a long backlog of distinct PFAs.
 */
const MAX_IDLE_LANES = 2_000;

export class PfaLanes {
  private readonly lanes = new Map<string, Lane>();
  /** The idle lanes, longest idle first (a Map keeps insertion order): evicting costs O(evicted). */
  private readonly idle = new Map<string, Lane>();
  private items = 0;

  constructor(private readonly opts: LanesOptions) {}

  /** Work items not yet recorded. */
  inFlight(): number {
    return this.items;
  }

  enqueue(item: LaneItem, ctx: LaneContext): void {
    const key = pfaKey(item.modification.organizationId, item.modification.pfaId);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { key, queue: [], running: null, known: null, own: null };
      this.lanes.set(key, lane);
    }
    this.idle.delete(key);
    lane.queue.push({ item, ctx });
    this.items += 1;
    if (!lane.running) this.start(lane);
  }

  private start(lane: Lane): void {
    const running = this.run(lane);
    lane.running = running;
    running.catch((err: unknown) => this.opts.onFailed(err));
  }

  /**
   * Stop taking up writes: lanes finish the request in hand, then leave the rest unrecorded
   * (still claimable, so Kafka redelivers it to whoever owns the partition next).
   */
  stop(): void {
    this.opts.write.stop();
  }

  /** Resolves when every lane is idle. */
  async drain(): Promise<void> {
    for (;;) {
      const running = [...this.lanes.values()].map((l) => l.running).filter((p): p is Promise<void> => p !== null);
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }

  private async run(lane: Lane): Promise<void> {
    try {
      while (lane.queue.length > 0) {
        // Commit order (the partition's order), whichever dispatch queued them: an edit taken over
        // from another instance must not be folded after a later one (later wins per field).
        const taken = [...lane.queue].sort((a, b) => comparePositions(a.item.position, b.item.position));
        lane.queue = [];
        const ctxByMod = new Map(taken.map((t) => [t.item.modification.id, t]));
        const writes = coalesce(taken.map((t) => t.item));
        for (let write = writes.shift(); write; write = writes.shift()) {
          const ctxOf = (i: LaneItem): LaneContext => ctxByMod.get(i.modification.id)!.ctx;
          const ctx = ctxByMod.get(write.modificationIds[0]!)!.ctx;
          // The freshest PEMS record we know: this lane's last write/GET, else the mirror.
          if (!lane.known || (ctx.mirror && ctx.mirror.version > lane.known.version)) lane.known = ctx.mirror;
          const items = write.modificationIds.map((id) => ctxByMod.get(id)!.item);
          let result: WriteResult;
          try {
            result = await this.opts.write.run(lane, write, items, ctxOf);
          } catch (err) {
            this.items -= write.modificationIds.length;
            throw err;
          }
          if (result.kind === 'abandoned') {
            this.items -= write.modificationIds.length;
            continue;
          }
          if (result.next.length > 0) writes.unshift(fold(result.next));
          for (const entry of result.entries) {
            const recorded = entry.modifications.length;
            this.opts.onOutcome?.(entry.outcome, write, recorded, entry.modifications);
            try {
              await this.opts.recorder.submit(entry);
            } finally {
              this.items -= recorded;
            }
          }
        }
      }
    } finally {
      lane.running = null;
      if (lane.queue.length > 0) this.start(lane);
      else {
        this.idle.set(lane.key, lane);
        if (this.idle.size > MAX_IDLE_LANES) this.evictIdle();
      }
    }
  }

  /**
   * Drops the longest-idle half. It used to scan and sort every lane each time a lane went idle
   * while more than MAX_IDLE_LANES existed: through a backlog of distinct PFAs (most lanes busy)
   * that was every time, 6 % of the sink's CPU in a 10,000 backlog (issue 16).
   */
  private evictIdle(): void {
    for (const [key] of this.idle) {
      if (this.idle.size <= MAX_IDLE_LANES / 2) break;
      this.idle.delete(key);
      this.lanes.delete(key);
    }
  }
}
