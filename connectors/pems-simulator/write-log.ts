/**
 * Test-only bookkeeping of the simulator's writes, per record: every write really applied
 * through the API (with its idempotency key, the version it produced and the changes it made)
 * and every idempotent replay (a key seen again: no write, the first outcome answered again).
 * Reconcile compares this log with the recorded outcomes (streams/reconcile.ts, reconcileWriteLog),
 * so a second application of the same edits is caught directly, not only by per-PFA counts.
 *
 * Also the hold: a test asks that the answer to a request which applied a write to given records
 * is delayed, so it can kill the sink exactly between "PEMS applied" and "outcome recorded".
 */

export interface AppliedWrite {
  pfaId: string;
  /** The version the write produced. */
  version: number;
  /** The version the write carried (the optimistic lock). */
  expectedVersion: number;
  idempotencyKey: string | null;
  operation: 'update' | 'delete';
  changes: Record<string, unknown>;
  modifiedBy: string;
  at: string;
  /**
   * When the request that applied it reached the simulator, and when its answer was sent (ISO; the
   * benchmark's stages).
   */
  receivedAt?: string;
  answeredAt?: string;
}

export interface ReplayedWrite {
  pfaId: string;
  idempotencyKey: string;
  /** The version the first application produced, answered again. */
  version: number;
  at: string;
}

export interface WriteLogSnapshot {
  writes: AppliedWrite[];
  replays: ReplayedWrite[];
}

export interface HoldSpec {
  /** Records whose applied writes trigger the hold; every record when absent. */
  pfaIds?: string[];
  /** How long the answer waits after the write was applied, ms. */
  ms: number;
  /** Requests held before the hold switches itself off; unlimited when absent. */
  count?: number;
}

/** Writes kept; older ones are dropped (a long benchmark must not grow without bound). */
const MAX_ENTRIES = 200_000;

export class WriteLog {
  private writes: AppliedWrite[] = [];
  private replays: ReplayedWrite[] = [];
  private hold: (HoldSpec & { left: number }) | null = null;
  /** Writes applied since the last clear, dropped ones included: positions for mark()/answered(). */
  private appliedTotal = 0;
  private readonly waiters: Array<{ pfaIds: Set<string> | null; after: number; resolve: (w: AppliedWrite) => void }> =
    [];

  applied(w: AppliedWrite): void {
    this.writes.push(w);
    this.appliedTotal += 1;
    if (this.writes.length > MAX_ENTRIES) this.writes.shift();
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      if (this.writes.length > waiter.after && (!waiter.pfaIds || waiter.pfaIds.has(w.pfaId))) {
        this.waiters.splice(i, 1);
        waiter.resolve(w);
      }
    }
  }

  /** The position of the next write: a request notes it before applying, to stamp its own writes in answered(). */
  mark(): number {
    return this.appliedTotal;
  }

  /** Stamps the writes applied at positions [from, to) with their request's arrival and the answer's time (now). */
  answered(from: number, to: number, receivedAt: string): void {
    const answeredAt = new Date().toISOString();
    const first = this.appliedTotal - this.writes.length;
    for (let n = Math.max(from, first); n < to; n++) {
      const w = this.writes[n - first];
      if (w) Object.assign(w, { receivedAt, answeredAt });
    }
  }

  replayed(r: ReplayedWrite): void {
    this.replays.push(r);
    if (this.replays.length > MAX_ENTRIES) this.replays.shift();
  }

  snapshot(): WriteLogSnapshot {
    return { writes: this.writes.map((w) => ({ ...w })), replays: this.replays.map((r) => ({ ...r })) };
  }

  /** Resolves with the next write applied to one of these records (any record when absent). */
  nextWrite(pfaIds?: readonly string[]): Promise<AppliedWrite> {
    return new Promise((resolve) =>
      this.waiters.push({ pfaIds: pfaIds ? new Set(pfaIds) : null, after: this.writes.length, resolve }),
    );
  }

  setHold(spec: HoldSpec | null): void {
    if (spec && (!Number.isFinite(spec.ms) || spec.ms < 0))
      throw new RangeError('hold.ms must be a non-negative number');
    this.hold = spec ? { ...spec, left: spec.count ?? Infinity } : null;
  }

  /** How long to hold the answer of a request that applied writes to these records (0: none). */
  holdFor(appliedPfaIds: readonly string[]): number {
    const h = this.hold;
    if (!h || h.left <= 0 || appliedPfaIds.length === 0) return 0;
    if (h.pfaIds && !appliedPfaIds.some((id) => h.pfaIds!.includes(id))) return 0;
    h.left -= 1;
    return h.ms;
  }

  clear(): void {
    this.writes = [];
    this.replays = [];
    this.hold = null;
    this.appliedTotal = 0;
  }
}
