/**
 * Where an edit being sent to PEMS is in the sink's retry schedule (streams/retry.ts), from what
 * the sink records while it works: the claim (pfa_modification.updated_at when it became
 * 'syncing') and the write-ahead intent it stores before every send (pems_write_intent.created_at
 * is the latest send). The sink keeps its try count in memory until the outcome, so the attempt
 * number is inferred: attempt n is sent no earlier than the sum of the first n−1 delays less the
 * jitter after the claim. Attempts of earlier runs (a replay) are recorded and added. Pure.
 */

export interface SendingProgress {
  /** 1-based, earlier runs' recorded attempts included. */
  attempt: number;
  lastSentAt: Date;
  /** When the next try is due if this one fails (nominal delay; ± jitterMs); null on the last attempt. */
  nextRetryAt: Date | null;
  jitterMs: number;
  /** No further try is scheduled: if this one fails the edit fails. */
  lastAttempt: boolean;
  /**
   * The next try is overdue by more than a request's timeout: the sink is waiting for PEMS
   * (while PEMS is unreachable it spends no attempt) or its instance stopped.
   */
  overdue: boolean;
}

export interface SendingInput {
  claimedAt: Date;
  /** Latest send (intent row), null when nothing was sent yet. */
  lastSentAt: Date | null;
  /** Attempts recorded by earlier runs of this edit (pfa_modification.attempts). */
  priorAttempts: number;
  now: Date;
  delaysMs: readonly number[];
  jitter: number;
  /** One PEMS request's timeout (pems.timeoutMs). */
  timeoutMs: number;
}

export function sendingProgress(i: SendingInput): SendingProgress | null {
  if (!i.lastSentAt) return null;
  const sinceClaim = Math.max(0, i.lastSentAt.getTime() - i.claimedAt.getTime());
  let n = 1;
  let earliest = 0;
  for (const d of i.delaysMs) {
    earliest += d;
    if (sinceClaim >= earliest * (1 - i.jitter)) n += 1;
    else break;
  }
  const maxAttempts = i.delaysMs.length + 1;
  const lastAttempt = n >= maxAttempts;
  const delay = lastAttempt ? null : i.delaysMs[n - 1]!;
  const nextRetryAt = delay === null ? null : new Date(i.lastSentAt.getTime() + delay);
  const jitterMs = delay === null ? 0 : Math.round(delay * i.jitter);
  // A failure is known at the latest one timeout after the send; the retry follows its delay.
  const dueBy = i.lastSentAt.getTime() + i.timeoutMs + (delay === null ? 0 : delay + jitterMs);
  return {
    attempt: i.priorAttempts + n,
    lastSentAt: i.lastSentAt,
    nextRetryAt,
    jitterMs,
    lastAttempt,
    overdue: i.now.getTime() > dueBy,
  };
}
