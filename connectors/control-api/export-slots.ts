/**
 * Bounds on streamed audit exports (issue 13, item 4). An export holds one pooled connection
 * and a REPEATABLE READ transaction for as long as its reader takes; ten slow readers used to
 * hold the whole pool and hang every route. Now at most `maxTotal` exports run at once and at
 * most `maxPerCaller` per user (429 EXPORT_BUSY beyond, with Retry-After), `maxTotal` stays
 * below the pool size (config cross-check) so the rest of the API keeps a connection, and an
 * export whose reader stops reading for `idleTimeoutMs` is aborted (server-side cursor closed,
 * connection returned).
 */
import { ApiError } from './errors';

export interface ExportSlotLimits {
  maxTotal: number;
  maxPerCaller: number;
}

export class ExportSlots {
  private total = 0;
  private readonly perCaller = new Map<string, number>();

  constructor(readonly limits: ExportSlotLimits) {}

  get active(): number {
    return this.total;
  }

  /** Takes a slot for `callerId` or throws 429; the returned release is idempotent. */
  acquire(callerId: string): () => void {
    const mine = this.perCaller.get(callerId) ?? 0;
    if (mine >= this.limits.maxPerCaller) {
      throw new ApiError(
        429,
        'EXPORT_BUSY',
        `you already run ${mine} audit export(s), the most one caller may run at once; wait for it to finish`,
        {
          limit: this.limits.maxPerCaller,
          scope: 'caller',
        },
      );
    }
    if (this.total >= this.limits.maxTotal) {
      throw new ApiError(
        429,
        'EXPORT_BUSY',
        `${this.total} audit exports are running, the most the API runs at once; try again shortly`,
        {
          limit: this.limits.maxTotal,
          scope: 'all',
        },
      );
    }
    this.total += 1;
    this.perCaller.set(callerId, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.perCaller.get(callerId) ?? 1) - 1;
      if (left <= 0) this.perCaller.delete(callerId);
      else this.perCaller.set(callerId, left);
    };
  }
}

/** Knex's pool (tarn) as readiness sees it. */
export interface PoolState {
  max: number;
  used: number;
  free: number;
  pending: number;
}

export function poolState(db: { client: { pool?: unknown } }, max: number): PoolState | undefined {
  const pool = db.client.pool as { numUsed(): number; numFree(): number; numPendingAcquires(): number } | undefined;
  if (!pool || typeof pool.numUsed !== 'function') return undefined;
  return { max, used: pool.numUsed(), free: pool.numFree(), pending: pool.numPendingAcquires() };
}
