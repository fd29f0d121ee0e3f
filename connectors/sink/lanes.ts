/**
 * The group, check and write stages for each PFA: one lane per PFA runs its modifications in
 * commit order, folding consecutive ones into a single write, and retries that write without
 * ever holding back other PFAs (every lane runs on its own). A lane's later edits wait behind
 * its earlier ones, so one PFA's writes never overtake each other.
 */
import type { BatchItem, PemsClient } from '../pems';
import { idempotencyKeyFor, itemError } from '../pems';
import { coalesce, fold, pfaKey, type CoalescedWrite, type WorkItem } from '../../streams/grouping';
import { comparePositions } from '../../streams/modification';
import { decideWrite, discountOwnWrites, recordAfterWrite, rejectedForFields, type WriteDecision } from '../../streams/check';
import { validateRecord } from '../../streams/validation';
import { classify, nextStep, OutageDetector, type RetryPolicy } from '../../streams/retry';
import { outcomeErrorFrom, type Outcome } from '../../streams/outcomes';
import { PemsSyncError } from '../../streams/errors';
import type { PfaRecord } from '../../streams/pfa-record';
import type { OrganizationContext } from './context';
import type { BatchWriter } from './write';
import type { AttemptLog, OutcomeEntry, Recorder, SourceRecord } from './record';
import { intentsOf, resumeIntent } from './resume';

export interface LaneItem extends WorkItem {
  source: SourceRecord;
}

/** What the task loaded for a PFA when its items were claimed. */
export interface LaneContext {
  org: OrganizationContext;
  /** The mirror's record (PEMS as last seen), or null. */
  mirror: PfaRecord | null;
  /** Mirror history by version, for the base values of each modification. */
  history: Map<number, PfaRecord>;
  /** Deltas this sink already wrote to the PFA, with the PEMS version each produced. */
  ownWrites: Array<{ version: number; delta: Record<string, unknown> }>;
  /** Items a stopped instance sent (or was about to send) for these modifications, oldest first. */
  intents: WriteIntent[];
}

export interface WriteIntent {
  key: string;
  modificationIds: string[];
  item: BatchItem;
}

export interface LanesOptions {
  writer: BatchWriter;
  recorder: Recorder;
  health: PemsHealth;
  retry: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  onOutcome?: (outcome: Outcome, write: CoalescedWrite, modificationCount: number, modifications: OutcomeEntry['modifications']) => void;
}

interface Lane {
  key: string;
  queue: Array<{ item: LaneItem; ctx: LaneContext }>;
  running: Promise<void> | null;
  known: PfaRecord | null;
  /**
   * What this sink itself wrote to the PFA, and the version that produced. A later edit based
   * on an older version built on these values (Vanguard shows pending edits merged), so our
   * own writes are not "PEMS moved the field" for it.
   */
  own: { version: number; changes: Record<string, unknown> } | null;
  idleSince: number;
}

/** Idle lanes kept for their `known`/`own` state; the oldest idle ones go past this many. */
const MAX_IDLE_LANES = 50_000;

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Thrown inside a lane when the sink stops mid-write: the work is left unrecorded for redelivery. */
class Abandoned extends Error {}

export class PfaLanes {
  private readonly lanes = new Map<string, Lane>();
  private items = 0;
  private stopping = false;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => Date;

  constructor(private readonly opts: LanesOptions) {
    this.sleep = opts.sleep ?? defaultSleep;
    this.now = opts.now ?? (() => new Date());
  }

  /** Work items not yet recorded. */
  inFlight(): number {
    return this.items;
  }

  enqueue(item: LaneItem, ctx: LaneContext): void {
    const key = pfaKey(item.modification.organizationId, item.modification.pfaId);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { key, queue: [], running: null, known: null, own: null, idleSince: 0 };
      this.lanes.set(key, lane);
    }
    lane.queue.push({ item, ctx });
    this.items += 1;
    if (!lane.running) lane.running = this.run(lane);
  }

  /**
   * Stop taking up writes: lanes finish the request in hand, then leave the rest unrecorded
   * (still claimable, so Kafka redelivers it to whoever owns the partition next).
   */
  stop(): void {
    this.stopping = true;
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
          const first = ctxByMod.get(write.modificationIds[0]!)!;
          const ctx = first.ctx;
          // The freshest PEMS record we know: this lane's last write/GET, else the mirror.
          if (!lane.known || (ctx.mirror && ctx.mirror.version > lane.known.version)) lane.known = ctx.mirror;
          const items = write.modificationIds.map((id) => ctxByMod.get(id)!.item);
          // An edit that breaks PEMS rules on the record it was made on is rejected on its own,
          // even when a later edit folded into the same write would hide it.
          const invalid = items.length > 1 ? invalidEdits(items, (i) => ctxByMod.get(i.modification.id)!.ctx.history.get(i.modification.baseVersion) ?? lane.known) : [];
          if (invalid.length > 0) {
            const rest = items.filter((i) => !invalid.some((x) => x.item === i));
            if (rest.length > 0) writes.unshift(fold(rest));
            for (const { item, errors } of invalid) {
              const rejected = rejectedForFields('PEMS_SYNC_VALIDATION_FAILED', 'the record would break PEMS rules after this change', errors);
              this.opts.onOutcome?.(rejected, write, 1, [{ modification: item.modification, source: item.source }]);
              try {
                await this.opts.recorder.submit({ kind: 'outcome', outcome: rejected, modifications: [{ modification: item.modification, source: item.source }], attempts: [], mirrorRecord: null, traceId: item.traceId ?? null });
              } finally {
                this.items -= 1;
              }
            }
            continue;
          }
          let entry: OutcomeEntry;
          try {
            const { rest, ...synced } = await this.sync(lane, write, ctx, items, (i) => ctxByMod.get(i.modification.id)!.ctx);
            entry = synced;
            // A resumed intent covered the first of these edits only: the others are a write of their own.
            if (rest && rest.length > 0) writes.unshift(fold(rest));
          } catch (err) {
            this.items -= write.modificationIds.length;
            if (err instanceof Abandoned) continue;
            throw err;
          }
          // Edits folded into one write conflict only where they overlap PEMS's changes: those
          // that touch a conflicting field are the conflict; the others go on as a write of their
          // own (rebased), as they would have had they come alone.
          const split = entry.outcome.kind === 'conflict' ? splitConflict(items, entry.outcome.fields.map((f) => f.field)) : null;
          if (split) {
            entry = { ...entry, modifications: split.conflicted.map((i) => ({ modification: i.modification, source: i.source })) };
            writes.unshift(fold(split.rest));
          }
          const recorded = entry.modifications.length;
          this.opts.onOutcome?.(entry.outcome, write, recorded, entry.modifications);
          try {
            await this.opts.recorder.submit(entry);
          } finally {
            this.items -= recorded;
          }
        }
      }
    } finally {
      lane.running = null;
      lane.idleSince = Date.now();
      if (lane.queue.length > 0) lane.running = this.run(lane);
      else if (this.lanes.size > MAX_IDLE_LANES) this.evictIdle();
    }
  }

  private evictIdle(): void {
    const idle = [...this.lanes.values()].filter((l) => !l.running && l.queue.length === 0).sort((a, b) => a.idleSince - b.idleSince);
    for (const l of idle.slice(0, Math.max(0, this.lanes.size - MAX_IDLE_LANES / 2))) this.lanes.delete(l.key);
  }

  private async sync(lane: Lane, write: CoalescedWrite, ctx: LaneContext, items: LaneItem[], ctxOf: (i: LaneItem) => LaneContext): Promise<OutcomeEntry & { rest?: LaneItem[] }> {
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
      const err = Object.assign(new Error(ctx.org.problem ?? 'organization not configured for PEMS'), { code: 'PEMS_SYNC_ORGANIZATION_NOT_CONFIGURED' });
      return entry({ kind: 'failed', error: outcomeErrorFrom(err) }, null, err);
    }
    // Resume what a stopped instance may already have done (resume.ts): re-send its exact item;
    // the edits it carried are recorded at the version PEMS answers, the rest goes on alone.
    const resumed = await resumeIntent(items, intentsOf(items.map((i) => ctxOf(i).intents)), { writer: this.opts.writer, client, now: this.now });
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
      return { ...entry(synced, after && after.version === result.newVersion ? after : null), modifications: applied.map((i) => ({ modification: i.modification, source: i.source })), rest };
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
            client.softDelete(write.pfaId, { version, modifiedBy: write.modifiedBy, reason: write.changeReason ?? 'discontinued in PFA Vanguard' }, { idempotencyKey: key }),
          );
          newVersion = r.newVersion;
          response = r;
        } else {
          const r = await this.opts.writer.update(client, {
            pfaId: write.pfaId,
            changes: write.changes as never,
            version,
            modifiedBy: write.modifiedBy,
            ...(write.changeReason ? { changeReason: write.changeReason } : {}),
            idempotencyKey: key,
          }, write.modificationIds);
          response = r;
          const failed = itemError(r);
          if (failed) throw failed;
          newVersion = r.newVersion!;
        }
        attempts.push({ at, version, result: 'updated', pemsResponse: response });
        let after: PfaRecord | null = onto ? recordAfterWrite(onto, write, newVersion, this.now().toISOString()) : null;
        if (!after) after = await this.direct(ctx.org.id, 'GET /pfa', () => client.getRecord(write.pfaId)).catch(() => null);
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
        attempts.push({ at, version, result: resultOf(cls), pemsResponse: errorBody(err) });
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
            const conflictingFields = conflictFields(err);
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
            const gaveUp = new PemsSyncError('PEMS_SYNC_RETRIES_EXHAUSTED', step.reason, { cause: err, details: { attempts: tries } });
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

function resultOf(cls: string): AttemptLog['result'] {
  switch (cls) {
    case 'conflict':
      return 'conflict';
    case 'rate_limited':
      return 'rate_limited';
    case 'transient':
      return 'transient';
    case 'unrecoverable':
      return 'rejected';
    default:
      return 'error';
  }
}

function errorBody(err: unknown): unknown {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; message?: unknown; details?: unknown };
    return { code: e.code ?? null, message: e.message ?? null, details: e.details ?? null };
  }
  return { message: String(err) };
}

function conflictFields(err: unknown): string[] | null {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const d = (e as { code?: string; details?: { conflictingFields?: unknown } }).details;
    if ((e as { code?: string }).code === 'PEMS_SYNC_PEMS_CONFLICT' && Array.isArray(d?.conflictingFields)) return d!.conflictingFields as string[];
    if (typeof e !== 'object') break;
  }
  return null;
}

/**
 * PEMS reachability per organization: consecutive transient failures mark it down (stop
 * spending attempts, pause consumption); a health probe brings it back.
 */
export class PemsHealth {
  private readonly detectors = new Map<string, OutageDetector>();
  /** Organizations held down by confirmOutage until a probe succeeds. */
  private readonly forced = new Set<string>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly probing = new Set<string>();
  private closed = false;

  constructor(
    private readonly opts: {
      threshold: number;
      probeIntervalMs: number;
      onChange?: (orgId: string, state: 'up' | 'down') => void;
      sleep?: (ms: number) => Promise<void>;
    },
  ) {}

  private detector(orgId: string): OutageDetector {
    let d = this.detectors.get(orgId);
    if (!d) {
      d = new OutageDetector({ threshold: this.opts.threshold, probeIntervalMs: this.opts.probeIntervalMs });
      this.detectors.set(orgId, d);
    }
    return d;
  }

  isDown(orgId: string): boolean {
    return this.forced.has(orgId) || this.detector(orgId).current().state === 'down';
  }

  anyDown(): boolean {
    return [...this.detectors.keys()].some((org) => this.isDown(org));
  }

  record(orgId: string, result: 'success' | 'transient'): void {
    const wasDown = this.isDown(orgId);
    this.detector(orgId).record(result, Date.now());
    if (result === 'success') this.forced.delete(orgId);
    this.notify(orgId, wasDown);
  }

  /**
   * A write ran out of retries on transient errors: asks PEMS's health endpoint once. Answered:
   * PEMS is up and the write itself keeps failing (false). Not answered: PEMS is down, the
   * organization is marked down until a probe succeeds (true).
   */
  async confirmOutage(orgId: string, client: PemsClient): Promise<boolean> {
    if (this.closed) return false;
    const ok = await client.health().then(
      () => true,
      () => false,
    );
    if (ok) return false;
    const wasDown = this.isDown(orgId);
    this.forced.add(orgId);
    this.notify(orgId, wasDown);
    return true;
  }

  private notify(orgId: string, wasDown: boolean): void {
    const down = this.isDown(orgId);
    if (down !== wasDown) this.changed(orgId, down ? 'down' : 'up');
  }

  /** Resolves at once while PEMS is up; while down, when a probe succeeds. */
  async waitUntilUp(orgId: string, client: PemsClient): Promise<void> {
    if (!this.isDown(orgId) || this.closed) return;
    this.startProbe(orgId, client);
    await new Promise<void>((resolve) => {
      const list = this.waiters.get(orgId) ?? [];
      list.push(resolve);
      this.waiters.set(orgId, list);
    });
  }

  private startProbe(orgId: string, client: PemsClient): void {
    if (this.probing.has(orgId)) return;
    this.probing.add(orgId);
    const sleep = this.opts.sleep ?? defaultSleep;
    void (async () => {
      try {
        while (this.isDown(orgId) && !this.closed) {
          await sleep(this.opts.probeIntervalMs);
          const ok = await client.health().then(
            () => true,
            () => false,
          );
          const wasDown = this.isDown(orgId);
          this.detector(orgId).probeResult(ok, Date.now());
          if (ok) this.forced.delete(orgId);
          this.notify(orgId, wasDown);
        }
      } finally {
        this.probing.delete(orgId);
      }
    })();
  }

  private changed(orgId: string, state: 'up' | 'down'): void {
    this.opts.onChange?.(orgId, state);
    if (state === 'up') {
      const list = this.waiters.get(orgId) ?? [];
      this.waiters.delete(orgId);
      list.forEach((w) => w());
    }
  }

  /** Releases every waiter (shutdown). */
  close(): void {
    this.closed = true;
    for (const list of this.waiters.values()) list.forEach((w) => w());
    this.waiters.clear();
  }
}

/**
 * For a conflict of a write folded from several modifications: the modifications whose own
 * delta touches a conflicting field, and the rest (in commit order); null when there is nothing
 * to split (all or none of them overlap).
 */
export function splitConflict(items: readonly LaneItem[], fields: readonly string[]): { conflicted: LaneItem[]; rest: LaneItem[] } | null {
  if (items.length < 2) return null;
  const hit = new Set(fields);
  const conflicted = items.filter((i) => Object.keys(i.modification.delta).some((f) => hit.has(f)));
  if (conflicted.length === 0 || conflicted.length === items.length) return null;
  return { conflicted, rest: items.filter((i) => !conflicted.includes(i)) };
}

/** Edits of a folded write that, applied alone to the record they were made on, break PEMS rules. */
export function invalidEdits(
  items: readonly LaneItem[],
  recordOf: (item: LaneItem) => PfaRecord | null | undefined,
): Array<{ item: LaneItem; errors: Array<{ field: string; message: string }> }> {
  const out: Array<{ item: LaneItem; errors: Array<{ field: string; message: string }> }> = [];
  for (const item of items) {
    if (item.modification.operation !== 'update') continue;
    const record = recordOf(item);
    if (!record) continue;
    const errors = validateRecord({ ...record, ...item.modification.delta }).map((e) => ({ field: e.field, message: e.message }));
    if (errors.length > 0) out.push({ item, errors });
  }
  return out;
}
