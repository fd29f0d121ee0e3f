/**
 * The write room: one coalesced write of one PFA against PEMS, start to outcome. It rejects the
 * folded edits that break PEMS rules on their own, resumes a write-ahead intent a stopped instance
 * left, decides (write, rebase, conflict) against the freshest record known, sends (through the
 * batch writer, or DELETE), retries transient failures, rechecks after a 409 with a fresh GET, and
 * splits a conflict of folded edits so that only the edits touching a conflicting field are the
 * conflict. It returns what to record and what goes on as a write of its own; the lanes
 * (lanes.ts) schedule, the recorder records.
 */
import { idempotencyKeyFor, itemError } from '../pems';
import { fold, type CoalescedWrite } from '../../streams/grouping';
import {
  decideWrite,
  discountOwnWrites,
  recordAfterWrite,
  rejectedForFields,
  type WriteDecision,
} from '../../streams/check';
import { invalidEdits, splitConflict } from '../../streams/folded-write';
import { classify, nextStep, type RetryPolicy } from '../../streams/retry';
import { outcomeErrorFrom, type Outcome } from '../../streams/outcomes';
import { PemsSyncError } from '../../streams/errors';
import type { PfaRecord } from '../../streams/pfa-record';
import { attemptErrorBody, attemptResultOf, conflictingFieldsOf } from '../../streams/write-attempt';
import type { PemsHealth } from './health';
import type { AttemptLog, OutcomeEntry } from './record';
import { intentsOf, resumeIntent, type BatchUpdater } from './resume';
import type { LaneContext, LaneItem, LaneState, WriteResult } from './work';

export interface PemsWriteOptions {
  writer: BatchUpdater;
  health: PemsHealth;
  retry: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Thrown inside a write when the sink stops mid-write: the work is left unrecorded for redelivery. */
class Abandoned extends Error {}

export class PemsWrite {
  private stopping = false;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => Date;

  constructor(private readonly opts: PemsWriteOptions) {
    this.sleep = opts.sleep ?? defaultSleep;
    this.now = opts.now ?? (() => new Date());
  }

  /** Writes in hand finish their request, then give up (abandoned) instead of going on. */
  stop(): void {
    this.stopping = true;
  }

  /**
   * One coalesced write of `items` (its modifications, in commit order) for the lane in `lane`,
   * whose known record the caller has brought up to date; `ctxOf` is each item's context.
   */
  async run(
    lane: LaneState,
    write: CoalescedWrite,
    items: LaneItem[],
    ctxOf: (i: LaneItem) => LaneContext,
  ): Promise<WriteResult> {
    // An edit that breaks PEMS rules on the record it was made on is rejected on its own,
    // even when a later edit folded into the same write would hide it.
    const invalid =
      items.length > 1
        ? invalidEdits(items, (i) => ctxOf(i).history.get(i.modification.baseVersion) ?? lane.known)
        : [];
    if (invalid.length > 0) {
      const entries = invalid.map(({ item, errors }): OutcomeEntry => ({
        kind: 'outcome',
        outcome: rejectedForFields(
          'PEMS_SYNC_VALIDATION_FAILED',
          'the record would break PEMS rules after this change',
          errors,
        ),
        modifications: [{ modification: item.modification, source: item.source }],
        attempts: [],
        mirrorRecord: null,
        traceId: item.traceId ?? null,
      }));
      return { kind: 'done', entries, next: items.filter((i) => !invalid.some((x) => x.item === i)) };
    }
    let entry: OutcomeEntry;
    try {
      const { rest, ...synced } = await this.sync(lane, write, ctxOf(items[0]!), items, ctxOf);
      // A resumed intent covered the first of these edits only: the others are a write of their own.
      if (rest && rest.length > 0) return { kind: 'done', entries: [synced], next: rest };
      entry = synced;
    } catch (err) {
      if (err instanceof Abandoned) return { kind: 'abandoned' };
      throw err;
    }
    // Edits folded into one write conflict only where they overlap PEMS's changes: those that
    // touch a conflicting field are the conflict; the others go on as a write of their own
    // (rebased), as they would have had they come alone.
    const split =
      entry.outcome.kind === 'conflict'
        ? splitConflict(
            items,
            entry.outcome.fields.map((f) => f.field),
          )
        : null;
    if (split) {
      return {
        kind: 'done',
        entries: [
          {
            ...entry,
            modifications: split.conflicted.map((i) => ({ modification: i.modification, source: i.source })),
          },
        ],
        next: split.rest,
      };
    }
    return { kind: 'done', entries: [entry], next: [] };
  }

  private async sync(
    lane: LaneState,
    write: CoalescedWrite,
    ctx: LaneContext,
    items: LaneItem[],
    ctxOf: (i: LaneItem) => LaneContext,
  ): Promise<OutcomeEntry & { rest?: LaneItem[] }> {
    const attempts: AttemptLog[] = [];
    const entry = (outcome: Outcome, mirrorRecord: PfaRecord | null = null, error?: unknown): OutcomeEntry => ({
      kind: 'outcome',
      outcome,
      modifications: items.map((i) => ({ modification: i.modification, source: i.source })),
      attempts,
      mirrorRecord,
      error,
      traceId: write.traceId,
    });

    const client = ctx.org.client;
    if (!client) {
      const err = new PemsSyncError(
        'PEMS_SYNC_ORGANIZATION_NOT_CONFIGURED',
        ctx.org.problem ?? 'organization not configured for PEMS',
      );
      return entry({ kind: 'failed', error: outcomeErrorFrom(err) }, null, err);
    }
    // Resume what a stopped instance may already have done (resume.ts): re-send its exact item;
    // the edits it carried are recorded at the version PEMS answers, the rest goes on alone.
    const resumed = await resumeIntent(items, intentsOf(items.map((i) => ctxOf(i).intents)), {
      writer: this.opts.writer,
      client,
      now: this.now,
    });
    if (resumed) {
      const { intent, applied, rest, result, at } = resumed;
      attempts.push({ at, version: intent.item.version, result: 'updated', pemsResponse: result });
      lane.own = { version: result.newVersion, changes: { ...(lane.own?.changes ?? {}), ...intent.item.changes } };
      const after = await this.direct(ctx.org.id, 'GET /pfa', () => client.getRecord(write.pfaId)).catch(() => null);
      if (after && after.version >= result.newVersion) lane.known = after;
      const synced: Outcome = {
        kind: 'synced',
        rebased: intent.item.version !== fold(applied).baseVersion,
        pemsVersionBefore: intent.item.version,
        pemsVersionAfter: result.newVersion,
        fieldsWritten: Object.keys(intent.item.changes),
      };
      return {
        ...entry(synced, after && after.version === result.newVersion ? after : null),
        modifications: applied.map((i) => ({ modification: i.modification, source: i.source })),
        rest,
      };
    }
    const history = (ctx.history.get(write.baseVersion) ?? null) as Record<string, unknown> | null;
    // Our own writes since the base (this lane's, recorded ones, and the edits folded into this
    // write) are not PEMS moving a field: discount them against whatever PEMS record we check.
    const ownDeltas: Array<Record<string, unknown>> = [
      ...ctx.ownWrites.filter((w) => w.version > write.baseVersion).map((w) => w.delta),
      ...(lane.own && lane.own.version > write.baseVersion ? [lane.own.changes] : []),
      ...items.map((i) => i.modification.delta),
    ];
    const baseFor = (current: PfaRecord | null): Record<string, unknown> | null =>
      discountOwnWrites(history, current as Record<string, unknown> | null, ownDeltas);
    let decision: WriteDecision = decideWrite({ write, current: lane.known, baseValues: baseFor(lane.known) });
    const key = idempotencyKeyFor(write.modificationIds, write.operation);
    let tries = 0;
    let rechecks = 0;
    /** lane.known was read from PEMS during this write (a 409 recheck), not taken from the mirror. */
    let fresh = false;

    for (;;) {
      if (this.stopping) throw new Abandoned('sink stopping');
      if (decision.kind === 'outcome') {
        const o = decision.outcome;
        if (o.kind === 'synced' && o.alreadyApplied && o.pemsVersionAfter !== null) {
          // PEMS already holds these values (an earlier run wrote them): remember them as ours.
          lane.own = { version: o.pemsVersionAfter, changes: { ...(lane.own?.changes ?? {}), ...write.changes } };
          return entry(o, lane.known);
        }
        // A conflict (or rejection) found against a record read from PEMS: the mirror learns
        // that version too, so people resolving it and later checks see PEMS as it is.
        return entry(o, fresh ? lane.known : null);
      }
      const { version, onto, rebased } = decision;
      await this.opts.health.waitUntilUp(ctx.org.id, client);
      tries += 1;
      const at = this.now().toISOString();
      try {
        let newVersion: number;
        let response: unknown;
        if (write.operation === 'delete') {
          const r = await this.direct(ctx.org.id, 'DELETE /pfa', () =>
            client.softDelete(
              write.pfaId,
              { version, modifiedBy: write.modifiedBy, reason: write.changeReason ?? 'discontinued in PFA Vanguard' },
              { idempotencyKey: key },
            ),
          );
          newVersion = r.newVersion;
          response = r;
        } else {
          const r = await this.opts.writer.update(
            client,
            {
              pfaId: write.pfaId,
              changes: write.changes as never,
              version,
              modifiedBy: write.modifiedBy,
              ...(write.changeReason ? { changeReason: write.changeReason } : {}),
              idempotencyKey: key,
            },
            write.modificationIds,
          );
          response = r;
          const failed = itemError(r);
          if (failed) throw failed;
          newVersion = r.newVersion!;
        }
        attempts.push({ at, version, result: 'updated', pemsResponse: response });
        let after: PfaRecord | null = onto ? recordAfterWrite(onto, write, newVersion, this.now().toISOString()) : null;
        if (!after)
          after = await this.direct(ctx.org.id, 'GET /pfa', () => client.getRecord(write.pfaId)).catch(() => null);
        lane.known = after;
        lane.own = { version: newVersion, changes: { ...(lane.own?.changes ?? {}), ...write.changes } };
        return entry(
          {
            kind: 'synced',
            rebased,
            pemsVersionBefore: version,
            pemsVersionAfter: newVersion,
            fieldsWritten: write.operation === 'delete' ? ['isDiscontinued'] : Object.keys(write.changes),
          },
          after,
        );
      } catch (err) {
        // Stopping: whatever PEMS said, the outcome is not ours to record any more (the client
        // was closed under the request); redelivery and the idempotency key finish the job.
        if (this.stopping) throw new Abandoned('sink stopping');
        const cls = classify(err);
        attempts.push({ at, version, result: attemptResultOf(cls), pemsResponse: attemptErrorBody(err) });
        const step = nextStep(tries, err, this.opts.retry, rechecks);
        switch (step.action) {
          case 'pause':
            // 429: the shared limiter already holds every caller back; no attempt is spent.
            tries -= 1;
            attempts.pop();
            await this.sleep(step.delayMs);
            continue;
          case 'retry':
            // While PEMS is known to be down, waiting for it is not an attempt.
            if (this.opts.health.isDown(ctx.org.id)) tries -= 1;
            await this.sleep(step.delayMs);
            continue;
          case 'recheck': {
            rechecks += 1;
            const conflictingFields = conflictingFieldsOf(err);
            let current: PfaRecord;
            try {
              current = await this.direct(ctx.org.id, 'GET /pfa', () => client.getRecord(write.pfaId));
            } catch (getErr) {
              const s = nextStep(tries, getErr, this.opts.retry, rechecks);
              if (s.action === 'retry' || s.action === 'pause') {
                rechecks -= 1;
                await this.sleep(s.delayMs);
                continue;
              }
              return entry({ kind: 'failed', error: outcomeErrorFrom(getErr) }, null, getErr);
            }
            lane.known = current;
            fresh = true;
            decision = decideWrite({ write, current, baseValues: baseFor(current), conflictingFields });
            continue;
          }
          case 'fail': {
            // Out of retries on transient errors. If PEMS is not answering at all (its health
            // check fails too), this is an outage, not this write's failure: wait for PEMS
            // without spending the attempt (an outage must not burn every queued change's
            // retries; with batching, few requests may fail before the retries run out).
            if (cls === 'transient' && (await this.opts.health.confirmOutage(ctx.org.id, client))) {
              tries -= 1;
              continue;
            }
            // The dead letter names why we gave up; the PEMS error stays as its cause.
            const gaveUp = new PemsSyncError('PEMS_SYNC_RETRIES_EXHAUSTED', step.reason, {
              cause: err,
              details: { attempts: tries },
            });
            // One code everywhere (table, header, result record, API): why it failed is that retries ran out.
            return entry({ kind: 'failed', error: outcomeErrorFrom(gaveUp) }, null, gaveUp);
          }
          case 'dead_letter': {
            const code = outcomeErrorFrom(err).code;
            // The change itself is wrong (PEMS 400/413/422) or its record is gone: rejected, for
            // the user to fix. Anything else (credentials, a bug) is a dead letter to replay.
            if (code === 'PEMS_SYNC_PEMS_REJECTED' || code === 'PEMS_SYNC_PEMS_NOT_FOUND') {
              return entry({ kind: 'rejected', error: outcomeErrorFrom(err), pemsVersion: version });
            }
            return entry({ kind: 'failed', error: outcomeErrorFrom(err), pemsVersion: version }, null, err);
          }
        }
      }
    }
  }

  /** A request that does not go through the batch writer, reported to the outage detector. */
  private async direct<T>(orgId: string, _endpoint: string, fn: () => Promise<T>): Promise<T> {
    try {
      const r = await fn();
      this.opts.health.record(orgId, 'success');
      return r;
    } catch (err) {
      this.opts.health.record(orgId, classify(err) === 'transient' ? 'transient' : 'success');
      throw err;
    }
  }
}
