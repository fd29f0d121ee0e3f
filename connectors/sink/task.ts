/**
 * The sink task, following Kafka Connect's SinkTask lifecycle (apache/kafka
 * connect/api/.../sink/SinkTask.java): start → put(records) per fetched batch → preCommit
 * (commit only offsets whose outcomes are durable) → close/stop.
 *
 * put: the decode stage runs inline; work is claimed in Postgres (committed → syncing, which
 * also drops events whose modification already has an outcome: redeliveries), checked for the
 * organization and perm_Sync, and handed to the PFA lanes. eachBatch returns as soon as the
 * work is queued, so the next fetch goes on while slow PFAs retry; offsets are committed as
 * their outcomes become durable (kafkajs: eachBatchAutoResolve false, explicit commits).
 * Backpressure: while too much is in flight, put waits (heartbeating), which pauses fetching.
 */
import type { Knex } from 'knex';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { decodeChangeEvent } from '../../streams/envelope';
import { pfaKey } from '../../streams/grouping';
import { comparePositions, type CdcPosition, type Modification } from '../../streams/modification';
import { PartitionOffsets } from '../../streams/offsets';
import { shapeErrors } from '../../streams/check';
import type { Outcome } from '../../streams/outcomes';
import type { PfaRecord } from '../../streams/pfa-record';
import { isValidTraceId, trace } from '@opentelemetry/api';
import type { SinkMetrics } from '../observability/metrics';
import { extractContext, withSpan } from '../observability/tracing';
import { permissionKey, type SyncContext } from './context';
import type { LaneContext, LaneItem, PfaLanes, PemsHealth, WriteIntent } from './lanes';
import type { BatchItem } from '../pems';
import { organizationOf, type Recorder, type SourceRecord } from './record';
import type { Claims } from './claims';

export interface SinkTaskOptions {
  kafka: Kafka;
  db: Knex;
  context: SyncContext;
  lanes: PfaLanes;
  recorder: Recorder;
  /** Owned claims: work another live instance holds is waited for, not redone. */
  claims: Claims;
  health: PemsHealth;
  logger: Logger;
  metrics: SinkMetrics;
  topic: string;
  groupId: string;
  sessionTimeoutMs: number;
  maxDeltaBytes: number;
  /** Most work items in flight before fetching pauses. */
  maxInFlight: number;
  shutdownTimeoutMs: number;
  /** Only these organizations' modifications are taken; empty: all. Others are skipped unclaimed. */
  organizations?: readonly string[];
}

export class SinkTask {
  private readonly consumer: Consumer;
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
  private waitTimer: NodeJS.Timeout | null = null;
  private checkingWaits = false;
  private assigned = new Set<string>();
  private commitTimer: NodeJS.Timeout | null = null;
  private committing: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;
  private member = false;
  private crashed = false;
  private paused = false;
  private readonly organizations: ReadonlySet<string> | null;

  constructor(private readonly opts: SinkTaskOptions) {
    this.organizations = opts.organizations && opts.organizations.length > 0 ? new Set(opts.organizations) : null;
    this.consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs,
      heartbeatInterval: Math.max(1000, Math.floor(opts.sessionTimeoutMs / 10)),
      maxBytesPerPartition: 1_048_576,
      allowAutoTopicCreation: false,
    });
    const { GROUP_JOIN, CRASH, STOP, DISCONNECT } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      this.member = true;
      const now = new Set<string>();
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
        for (const p of partitions as number[]) now.add(`${topic}:${p}`);
      }
      // Partitions taken away: their work may still finish and record (guarded, idempotent),
      // but their offsets are no longer ours to commit; the new owner redelivers from the
      // last commit.
      for (const tp of this.assigned) if (!now.has(tp)) this.offsets.delete(tp);
      for (const [id, w] of this.waiting) if (!now.has(`${w.position.topic}:${w.position.partition}`)) this.waiting.delete(id);
      this.assigned = now;
      opts.logger.info({ assignment: [...now] }, 'sink joined the consumer group');
    });
    this.consumer.on(CRASH, (e) => {
      this.crashed = !e.payload.restart;
      this.member = false;
      opts.logger.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
    });
    this.consumer.on(STOP, () => (this.member = false));
    this.consumer.on(DISCONNECT, () => (this.member = false));
  }

  ready(): { ready: boolean; checks: Record<string, boolean | string> } {
    return { ready: this.member && !this.closing, checks: { consumerGroupMember: this.member, pemsReachable: !this.opts.health.anyDown() } };
  }

  /** Partitions this instance owns now, as "topic:partition". */
  assignment(): string[] {
    return [...this.assigned].sort();
  }

  alive(): boolean {
    return !this.crashed;
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.opts.topic, fromBeginning: true });
    await this.consumer.run({
      eachBatchAutoResolve: false,
      autoCommit: false,
      partitionsConsumedConcurrently: 6,
      eachBatch: (payload) => this.put(payload),
    });
    this.commitTimer = setInterval(() => void this.preCommit(), 1000);
    this.waitTimer = setInterval(() => void this.checkWaiting(), 1000);
  }

  /** Settles or takes over events whose modification another instance was working on. */
  private async checkWaiting(): Promise<void> {
    if (this.waiting.size === 0 || this.checkingWaits || this.closing) return;
    this.checkingWaits = true;
    try {
      const { settled, takeable, held } = await this.opts.claims.check([...this.waiting.keys()]);
      for (const id of settled) {
        const w = this.waiting.get(id)!;
        this.waiting.delete(id);
        this.markDone([w.position]);
      }
      // An edit waits behind an earlier edit of its PFA that another live instance still holds,
      // even when it could be taken: taking it would write it before that earlier one.
      const heldIds = new Set(held);
      const heldItems = [...this.waiting.values()].filter((w) => heldIds.has(w.modification.id));
      const take = takeable.map((id) => this.waiting.get(id)!).filter((w) => !behindAny(w, heldItems)).sort((a, b) => comparePositions(a.position, b.position));
      for (const w of take) {
        this.waiting.delete(w.modification.id);
        this.taking.add(w);
      }
      if (take.length > 0) {
        this.opts.logger.info({ modifications: take.length }, 'taking over claims of an instance that is gone');
        this.opts.metrics.claimsTakenOver.inc(take.length);
        // On failure they wait again: nothing is marked done before it is claimed and queued.
        await this.dispatch(take)
          .catch((err: unknown) => {
            for (const w of take) this.waiting.set(w.modification.id, w);
            this.opts.logger.warn({ err }, 'taking over claims failed; retrying');
          })
          .finally(() => {
            for (const w of take) this.taking.delete(w);
          });
      }
    } catch (err) {
      this.opts.logger.warn({ err }, 'checking claims held by other instances failed; retrying');
    } finally {
      this.checkingWaits = false;
      this.opts.metrics.claimsWaiting.set(this.waiting.size);
    }
  }

  /** PEMS went down or came back: pause or resume fetching (lanes stop spending attempts). */
  pemsStateChanged(state: 'up' | 'down'): void {
    if (state === 'down' && !this.paused) {
      this.paused = true;
      this.consumer.pause([{ topic: this.opts.topic }]);
      this.opts.logger.warn('PEMS unreachable: consumption paused, probing health');
    } else if (state === 'up' && this.paused && !this.opts.health.anyDown()) {
      this.paused = false;
      this.consumer.resume([{ topic: this.opts.topic }]);
      this.opts.logger.info('PEMS reachable again: consumption resumed');
    }
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

  /**
   * Marks positions durable (called by the recorder after commit + emit), with the modifications
   * whose outcomes they carry: redeliveries of those that arrived while they were in flight are
   * done too.
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

  private put(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    // One span per fetched batch, continuing a trace carried in the first record's headers.
    return withSpan(
      'pems-sync.sink.batch',
      { 'messaging.system': 'kafka', 'messaging.destination.name': batch.topic, 'messaging.kafka.partition': batch.partition, 'messaging.batch.message_count': batch.messages.length },
      () => this.putBatch(payload),
      extractContext(batch.messages[0]?.headers as never),
    );
  }

  private async putBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    const { topic, partition } = batch;
    const tracker = this.tracker(topic, partition);
    this.opts.metrics.batchSize.observe(batch.messages.length);
    const lag = batch.offsetLagLow();
    this.opts.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(lag));
    this.opts.metrics.consumerLagSeconds.set({ topic, partition: String(partition) }, Number(lag) > 0 ? Math.max(0, (Date.now() - Number(batch.messages[0]?.timestamp ?? Date.now())) / 1000) : 0);

    const work: LaneItem[] = [];
    const done: string[] = [];
    let last: string | null = null;
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) return;
      last = message.offset;
      tracker.track(message.offset);
      const source = sourceOf(topic, partition, message);
      const decoded = decodeChangeEvent(
        { key: message.key, value: message.value, topic, partition, offset: message.offset, headers: message.headers as never },
        { maxDeltaBytes: this.opts.maxDeltaBytes },
      );
      if (decoded.kind === 'skip') done.push(message.offset);
      else if (decoded.kind === 'poison' && this.organizations && !this.organizations.has(organizationOf(message.key ?? null) ?? '')) {
        // Another shard's organization (or an unreadable key, which every shard sees): the
        // dead_letter_poison_once index keeps one dead letter whoever records it.
        if (organizationOf(message.key ?? null) !== null) done.push(message.offset);
        else void this.opts.recorder.submit({ kind: 'poison', reason: decoded.reason, source, modificationId: modificationIdOf(message.value ?? null) }).catch(() => undefined);
      } else if (decoded.kind === 'poison') {
        this.opts.metrics.deadLetters.inc({ reason: 'poison' });
        this.opts.logger.warn({ topic, partition, offset: message.offset, reason: decoded.reason }, 'poison event: dead-lettered');
        void this.opts.recorder.submit({ kind: 'poison', reason: decoded.reason, source, modificationId: modificationIdOf(message.value ?? null) }).catch(() => undefined);
      } else if (this.organizations && !this.organizations.has(decoded.modification.organizationId)) {
        done.push(message.offset); // another deployment's organization: not ours to claim
      } else work.push({ modification: decoded.modification, position: decoded.position, traceId: decoded.traceId, source });
    }
    for (const o of done) tracker.markDone(o);

    if (work.length > 0) await this.dispatch(work);
    // kafkajs: a resolved offset only moves the *fetch* position (autoCommit is off); what is
    // committed is decided by preCommit from the durable prefix. Resolved only once the batch is
    // claimed and queued: when Postgres fails mid-dispatch, eachBatch throws and kafkajs fetches
    // the same records again, so claimed modifications are never left behind in 'syncing'.
    if (last !== null) resolveOffset(last);
    // Backpressure: hold this fetch loop (and heartbeat) while too much is in flight.
    while (this.opts.lanes.inFlight() > this.opts.maxInFlight && isRunning() && !isStale()) {
      await heartbeat();
      await new Promise((r) => setTimeout(r, 100));
    }
    await heartbeat();
  }

  /** Claims the batch's modifications, loads their context, rejects what cannot go, queues the rest. */
  private async dispatch(work: LaneItem[]): Promise<void> {
    // Results carry the trace of the batch that handled them (Debezium events bring none of their own).
    const traceId = trace.getActiveSpan()?.spanContext().traceId;
    if (traceId && isValidTraceId(traceId)) for (const w of work) w.traceId ??= traceId;
    const ids = [...new Set(work.map((w) => w.modification.id))];
    // The previous status tells a fresh claim from one a stopped instance left in 'syncing'.
    const { claimed, held } = await this.opts.claims.claim(ids);
    const claimedIds = new Set(claimed.map((r) => r.id));
    const heldIds = new Set(held);
    const resumed = claimed.filter((r) => r.prev === 'syncing').map((r) => r.id);
    const intents = await this.loadIntents(resumed);
    const live: LaneItem[] = [];
    const released: string[] = [];
    const inWork = new Set(work);
    const repeats = new Map<string, CdcPosition[]>();
    for (const w of work) {
      const id = w.modification.id;
      // Another live instance works on it: wait for its outcome (offset held back meanwhile).
      if (heldIds.has(id)) {
        const before = this.waiting.get(id);
        if (before) this.markDone([before.position]); // the later event stands for both
        this.waiting.set(id, w);
        this.opts.metrics.claimsWaiting.set(this.waiting.size);
      }
      // Events of modifications that already have an outcome (redelivery) need nothing more.
      else if (!claimedIds.has(id)) this.markDone([w.position]);
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
    }
    if (released.length > 0) {
      await this.opts.claims.release(released);
      this.opts.metrics.claimsWaiting.set(this.waiting.size);
    }
    if (live.length === 0) return;

    const orgs = await this.opts.context.organizations([...new Set(live.map((w) => w.modification.organizationId))]);
    const permitted = await this.opts.context.syncPermissions(
      live.map((w) => ({ userId: w.modification.userId, organizationId: w.modification.organizationId })),
    );
    const pfas = [...new Map(live.map((w) => [pfaKey(w.modification.organizationId, w.modification.pfaId), w.modification])).values()];
    const mirrors = await this.loadMirrors(pfas);
    const history = await this.loadHistory(live.map((w) => w.modification));
    const ownWrites = await this.loadOwnWrites(live.map((w) => w.modification));

    // From here on nothing can fail: each item is in hand until its outcome is durable.
    for (const w of live) {
      const m = w.modification;
      this.working.set(m.id, repeats.get(m.id)!);
      const org = orgs.get(m.organizationId)!;
      const rejected = this.precheck(m, org.syncEnabled, permitted.has(permissionKey(m.userId, m.organizationId)));
      if (rejected) {
        this.opts.metrics.modifications.inc({ outcome: 'rejected' });
        void this.opts.recorder
          .submit({ kind: 'outcome', outcome: rejected, modifications: [{ modification: m, source: w.source }], attempts: [], mirrorRecord: null, traceId: w.traceId ?? null })
          .catch(() => undefined);
        continue;
      }
      const key = pfaKey(m.organizationId, m.pfaId);
      const ctx: LaneContext = {
        org,
        mirror: mirrors.get(key) ?? null,
        history: history.get(key) ?? new Map(),
        ownWrites: ownWrites.get(key) ?? [],
        intents: intents.filter((i) => i.modificationIds.includes(m.id)),
      };
      this.opts.lanes.enqueue(w, ctx);
    }
  }

  /** Outcomes decided before any PEMS call: sync disabled, no perm_Sync, a malformed delta. */
  private precheck(m: Modification, syncEnabled: boolean, permitted: boolean): Outcome | null {
    if (!syncEnabled) {
      return { kind: 'rejected', error: { code: 'PEMS_SYNC_SYNC_DISABLED', message: `organization ${m.organizationId} has not enabled sync to PEMS` } };
    }
    if (!permitted) {
      return { kind: 'rejected', error: { code: 'PEMS_SYNC_PERMISSION_DENIED', message: `user ${m.userId} does not hold perm_Sync in ${m.organizationId}` } };
    }
    if (m.operation === 'update') {
      const errors = shapeErrors(m.delta);
      if (errors.length > 0) {
        return { kind: 'rejected', error: { code: 'PEMS_SYNC_VALIDATION_FAILED', message: 'the change has fields PEMS does not accept', fieldErrors: errors } };
      }
    }
    return null;
  }

  private async loadMirrors(mods: Modification[]): Promise<Map<string, PfaRecord>> {
    const out = new Map<string, PfaRecord>();
    if (mods.length === 0) return out;
    // unnest() joins: a row-value IN list of hundreds of pairs plans badly in Postgres.
    const rows = await this.opts.db
      .select('m.organization_id', 'm.pfa_id', 'm.data')
      .from(this.opts.db.raw('unnest(?::text[], ?::text[]) AS k(org, pfa)', [mods.map((m) => m.organizationId), mods.map((m) => m.pfaId)]))
      .join('pfa_mirror as m', function () {
        this.on('m.organization_id', '=', 'k.org').andOn('m.pfa_id', '=', 'k.pfa');
      });
    for (const r of rows) out.set(pfaKey(r.organization_id, r.pfa_id), r.data as PfaRecord);
    return out;
  }

  private async loadHistory(mods: Modification[]): Promise<Map<string, Map<number, PfaRecord>>> {
    const out = new Map<string, Map<number, PfaRecord>>();
    if (mods.length === 0) return out;
    const rows = await this.opts.db
      .distinct('h.organization_id', 'h.pfa_id', 'h.version', 'h.data')
      .from(
        this.opts.db.raw('unnest(?::text[], ?::text[], ?::int[]) AS k(org, pfa, version)', [
          mods.map((m) => m.organizationId),
          mods.map((m) => m.pfaId),
          mods.map((m) => m.baseVersion),
        ]),
      )
      .join('pfa_mirror_history as h', function () {
        this.on('h.organization_id', '=', 'k.org').andOn('h.pfa_id', '=', 'k.pfa').andOn('h.version', '=', 'k.version');
      });
    for (const r of rows) {
      const k = pfaKey(r.organization_id, r.pfa_id);
      const m = out.get(k) ?? new Map<number, PfaRecord>();
      m.set(Number(r.version), r.data as PfaRecord);
      out.set(k, m);
    }
    return out;
  }

  /** Write-ahead intents left by an instance that stopped before recording (see write.ts). */
  private async loadIntents(ids: string[]): Promise<WriteIntent[]> {
    if (ids.length === 0) return [];
    const rows = await this.opts.db('pems_write_intent').whereRaw('modification_ids && ?::uuid[]', [ids]).orderBy('created_at');
    return rows.map((r: { idempotency_key: string; modification_ids: string[]; item: BatchItem }) => ({
      key: r.idempotency_key,
      modificationIds: r.modification_ids,
      item: r.item,
    }));
  }

  /** Deltas of this PFA's modifications already synced past the oldest base version in the batch. */
  private async loadOwnWrites(mods: Modification[]): Promise<Map<string, Array<{ version: number; delta: Record<string, unknown> }>>> {
    const out = new Map<string, Array<{ version: number; delta: Record<string, unknown> }>>();
    const minBase = new Map<string, Modification>();
    for (const m of mods) {
      const k = pfaKey(m.organizationId, m.pfaId);
      const prev = minBase.get(k);
      if (!prev || m.baseVersion < prev.baseVersion) minBase.set(k, m);
    }
    if (minBase.size === 0) return out;
    const rows = await this.opts.db('pfa_modification as m')
      .join(
        this.opts.db.raw('unnest(?::text[], ?::text[], ?::int[]) AS b(org, pfa, base)', [
          [...minBase.values()].map((m) => m.organizationId),
          [...minBase.values()].map((m) => m.pfaId),
          [...minBase.values()].map((m) => m.baseVersion),
        ]),
        function () {
          this.on('m.organization_id', '=', 'b.org').andOn('m.pfa_id', '=', 'b.pfa');
        },
      )
      .where('m.sync_status', 'synced')
      .whereRaw('m.pems_version_after > b.base')
      .orderBy('m.pems_version_after')
      .select('m.organization_id', 'm.pfa_id', 'm.delta', 'm.pems_version_after');
    for (const r of rows) {
      const k = pfaKey(r.organization_id, r.pfa_id);
      const list = out.get(k) ?? [];
      list.push({ version: Number(r.pems_version_after), delta: r.delta as Record<string, unknown> });
      out.set(k, list);
    }
    return out;
  }

  /** Commits, per assigned partition, the offset after the durable prefix. */
  preCommit(): Promise<void> {
    this.committing = this.committing.then(async () => {
      const topics: Array<{ topic: string; partition: number; offset: string }> = [];
      for (const [tp, tracker] of this.offsets) {
        const next = tracker.takeCommittable();
        if (next === null) continue;
        const i = tp.lastIndexOf(':');
        topics.push({ topic: tp.slice(0, i), partition: Number(tp.slice(i + 1)), offset: next });
      }
      if (topics.length === 0) return;
      try {
        await this.consumer.commitOffsets(topics);
      } catch (err) {
        // A rebalance took the partition: the new owner redelivers from the last commit, which
        // is safe (outcomes are guarded, PEMS writes carry idempotency keys).
        this.opts.logger.warn({ err }, 'offset commit failed');
      }
    });
    return this.committing;
  }

  /**
   * Graceful stop (SIGTERM): stop fetching, let in-flight work finish within the shutdown
   * timeout, record and commit what is durable, leave the rest uncommitted (redelivered to
   * whoever owns the partition next). Idempotent: every call returns the same promise.
   */
  stop(): Promise<void> {
    this.closing ??= (async () => {
      const log = this.opts.logger;
      try {
        this.consumer.pause([{ topic: this.opts.topic }]);
      } catch {
        /* not running yet */
      }
      const drained = await Promise.race([
        this.opts.lanes.drain().then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), this.opts.shutdownTimeoutMs).unref()),
      ]);
      if (!drained) log.warn({ inFlight: this.opts.lanes.inFlight() }, 'shutdown timeout: abandoning in-flight work (uncommitted, will be redelivered)');
      this.opts.lanes.stop();
      this.opts.health.close();
      if (this.waitTimer) clearInterval(this.waitTimer);
      await this.opts.recorder.flush().catch((err) => log.error({ err }, 'final flush failed'));
      if (this.commitTimer) clearInterval(this.commitTimer);
      await this.preCommit().catch(() => undefined);
      await this.consumer.disconnect().catch((err) => log.error({ err }, 'consumer disconnect failed'));
    })();
    return this.closing;
  }
}

/** An earlier edit of the same PFA (same partition: offsets compare) is among `before`. */
function behindAny(w: LaneItem, before: readonly LaneItem[]): boolean {
  const key = pfaKey(w.modification.organizationId, w.modification.pfaId);
  return before.some((b) => b !== w && b.modification.id !== w.modification.id && pfaKey(b.modification.organizationId, b.modification.pfaId) === key && comparePositions(b.position, w.position) < 0);
}

/** after.id of a change event that could not be decoded as work, when the JSON is readable. */
function modificationIdOf(value: Buffer | null): string | null {
  if (!value) return null;
  try {
    const id = (JSON.parse(value.toString('utf8')) as { after?: { id?: unknown } }).after?.id;
    return typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id) ? id : null;
  } catch {
    return null;
  }
}

function sourceOf(topic: string, partition: number, m: KafkaMessage): SourceRecord {
  return {
    position: { topic, partition, offset: m.offset },
    key: m.key ?? null,
    value: m.value ?? null,
    headers: m.headers ?? {},
  };
}
