/**
 * The wait stage: events the task could not hand to a lane yet, because another live instance
 * holds their modification's claim (checked every second, taken over once that instance is
 * gone), or because the modification was not visible as claimable when its event was read
 * (streams/visibility.ts: claimed again after a short back-off, dead-lettered after the bound).
 * The ledger keeps the events and their offsets; this room owns the timers and asks the task to
 * dispatch what may go now.
 */
import type { Logger } from 'pino';
import { notVisibleReason } from '../../streams/visibility';
import type { SinkMetrics } from '../observability/metrics';
import type { Claims } from './claims';
import type { OffsetLedger } from './ledger';
import type { Recorder } from './record';
import type { LaneItem } from './work';

export interface WaitsOptions {
  ledger: OffsetLedger;
  claims: Claims;
  recorder: Recorder;
  logger: Logger;
  metrics: SinkMetrics;
  /** Claims, checks and queues items (the task's dispatch); throws when that fails. */
  dispatch: (items: LaneItem[]) => Promise<void>;
}

export class Waits {
  private checkTimer: NodeJS.Timeout | null = null;
  private checking = false;
  private revisitTimer: NodeJS.Timeout | null = null;
  private revisitAt = Number.POSITIVE_INFINITY;
  private stopped = false;

  constructor(private readonly opts: WaitsOptions) {}

  start(): void {
    this.checkTimer = setInterval(() => void this.checkHeld(), 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.checkTimer) clearInterval(this.checkTimer);
    if (this.revisitTimer) clearTimeout(this.revisitTimer);
  }

  /** Settles or takes over events whose modification another instance was working on. */
  private async checkHeld(): Promise<void> {
    const { ledger, claims, logger, metrics } = this.opts;
    if (ledger.waitingCount() === 0 || this.checking || this.stopped) return;
    this.checking = true;
    try {
      const take = ledger.takeover(await claims.check(ledger.waitingIds()));
      if (take.length > 0) {
        logger.info({ modifications: take.length }, 'taking over claims of an instance that is gone');
        metrics.claimsTakenOver.inc(take.length);
        await this.dispatch(take, 'taking over claims failed; retrying');
      }
    } catch (err) {
      logger.warn({ err }, 'checking claims held by other instances failed; retrying');
    } finally {
      this.checking = false;
      metrics.claimsWaiting.set(ledger.waitingCount());
    }
  }

  /** Arms the timer for the next event not visible yet that is due to be claimed again (ledger.dueUnseen). */
  scheduleRevisit(): void {
    const due = this.opts.ledger.nextUnseenDue();
    if (due === null || this.stopped || (this.revisitTimer && this.revisitAt <= due)) return;
    if (this.revisitTimer) clearTimeout(this.revisitTimer);
    this.revisitAt = due;
    this.revisitTimer = setTimeout(
      () => {
        this.revisitTimer = null;
        this.revisitAt = Number.POSITIVE_INFINITY;
        void this.revisit();
      },
      Math.max(0, due - Date.now()),
    );
  }

  private async revisit(): Promise<void> {
    const { ledger, logger, metrics, recorder } = this.opts;
    if (this.stopped) return;
    const now = Date.now();
    const { retry, giveUp } = ledger.dueUnseen(now);
    for (const { item, wait } of giveUp) {
      // Never silently dropped: a dead letter (its modification rejected if claimable by now);
      // the offset is done once that is durable.
      const reason = notVisibleReason(item.modification.id, wait, now);
      metrics.deadLetters.inc({ reason: 'not_visible' });
      logger.error({ modification: item.modification.id, position: item.position }, reason);
      void recorder
        .submit({ kind: 'poison', reason, source: item.source, modificationId: item.modification.id })
        .catch(() => undefined);
    }
    if (retry.length > 0) await this.dispatch(retry, 'claiming modifications not visible before failed; retrying');
    this.scheduleRevisit();
  }

  /** On failure the items wait again: nothing is marked done before it is claimed and queued. */
  private dispatch(items: LaneItem[], failure: string): Promise<void> {
    const { ledger, logger } = this.opts;
    return this.opts
      .dispatch(items)
      .catch((err: unknown) => {
        ledger.waitAgain(items);
        logger.warn({ err }, failure);
      })
      .finally(() => ledger.taken(items));
  }
}
