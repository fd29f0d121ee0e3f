/**
 * Is the sync keeping up? Computed from real data only: the age of the oldest edit that is
 * committed but not yet in PEMS, against a target. An organization that never committed an
 * edit is "no edits yet", never "on time" (Airbyte showed "On time" before any sync: #34925).
 */
export type Freshness = 'no_edits' | 'on_time' | 'late' | 'stalled';

export interface FreshnessInput {
  /** committed_at of the oldest edit in committed / queued / syncing, or null when none is waiting. */
  oldestUnsyncedAt: Date | null;
  /** Edits ever committed by the organization. */
  totalEdits: number;
  now: Date;
  targetSeconds: number;
  stalledAfterSeconds: number;
}

export interface FreshnessResult {
  state: Freshness;
  /** Age of the oldest waiting edit, seconds; null when none waits. */
  oldestAgeSeconds: number | null;
}

export function freshnessOf(i: FreshnessInput): FreshnessResult {
  if (i.oldestUnsyncedAt === null)
    return { state: i.totalEdits === 0 ? 'no_edits' : 'on_time', oldestAgeSeconds: null };
  const age = Math.max(0, (i.now.getTime() - i.oldestUnsyncedAt.getTime()) / 1000);
  const state: Freshness = age <= i.targetSeconds ? 'on_time' : age <= i.stalledAfterSeconds ? 'late' : 'stalled';
  return { state, oldestAgeSeconds: age };
}

/** The worst of several organizations' states (overall status). */
export function worstFreshness(states: readonly Freshness[]): Freshness {
  const order: Freshness[] = ['stalled', 'late', 'on_time', 'no_edits'];
  return order.find((s) => states.includes(s)) ?? 'no_edits';
}
