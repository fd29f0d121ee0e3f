/**
 * A change event can be read before the row it carries is visible to the sink's own session:
 * PostgreSQL's logical decoding sends a commit once its WAL record is flushed, and the
 * committing backend makes it visible to other snapshots a moment later (longer when it waits
 * for a synchronous standby, or under CPU starvation). A claim that finds no claimable row is
 * therefore not proof that the edit has an outcome. This module decides, from the row's actual
 * state, what a claim that did not take a row means, and how long to keep looking for a row not
 * visible yet before it is dead-lettered. Pure: the sink's task owns the timers.
 */

/** What a claim that did not take a modification found. */
export type ClaimMiss =
  /** In 'syncing' under another live instance: wait for its outcome. */
  | 'held'
  /** It has an outcome (or was superseded): nothing to do. */
  | 'settled'
  /**
   * Not found, still in 'draft' (the committing transaction is not visible yet), or claimable
   * after all (it became visible between the claim and this look): claim it again shortly.
   */
  | 'unseen';

/** Where the row of a modification whose claim missed stands (null: not found). */
export function claimMiss(status: string | null): ClaimMiss {
  if (status === null || status === 'draft' || status === 'committed' || status === 'queued') return 'unseen';
  if (status === 'syncing') return 'held';
  return 'settled';
}

export interface VisibilityPolicy {
  /** The first wait before a modification not visible yet is claimed again, ms (then doubling). */
  firstDelayMs: number;
  /** The longest single wait, ms. */
  maxDelayMs: number;
  /** After this long since its event was first read, a modification still not visible is dead-lettered, ms. */
  giveUpAfterMs: number;
}

export const DEFAULT_VISIBILITY_POLICY: VisibilityPolicy = {
  firstDelayMs: 10,
  maxDelayMs: 2000,
  giveUpAfterMs: 30_000,
};

/** The look-again schedule of one modification whose row was not visible. */
export interface VisibilityWait {
  /** When its event was first found not visible (ms since the epoch). */
  firstAt: number;
  /** Claims so far that found it not visible. */
  misses: number;
  /** When to claim it again (ms since the epoch). */
  dueAt: number;
}

/** The wait after the first miss. */
export function firstVisibilityWait(now: number, policy: VisibilityPolicy): VisibilityWait {
  return { firstAt: now, misses: 1, dueAt: now + Math.min(policy.firstDelayMs, policy.giveUpAfterMs) };
}

/** The wait after one more miss: the delay doubles up to maxDelayMs, and never passes the give-up time. */
export function nextVisibilityWait(w: VisibilityWait, now: number, policy: VisibilityPolicy): VisibilityWait {
  const delay = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.min(w.misses, 30));
  return { firstAt: w.firstAt, misses: w.misses + 1, dueAt: Math.min(now + delay, w.firstAt + policy.giveUpAfterMs) };
}

/** True once a modification has been looked for as long as the policy allows. */
export function visibilityGivenUp(w: VisibilityWait, now: number, policy: VisibilityPolicy): boolean {
  return now - w.firstAt >= policy.giveUpAfterMs;
}

/** The dead letter's reason for a modification never seen as claimable. */
export function notVisibleReason(modificationId: string, w: VisibilityWait, now: number): string {
  return (
    `modification ${modificationId}: its change event was read, but for ${now - w.firstAt} ms (${w.misses} claims) ` +
    `the row was not found as committed in pfa_modification (missing, or its transaction never became visible); ` +
    'nothing was written to PEMS'
  );
}
