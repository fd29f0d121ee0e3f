/**
 * The sink task, following Kafka Connect's SinkTask lifecycle (apache/kafka
 * connect/api/.../sink/SinkTask.java): start → put(records) per fetched batch → preCommit
 * (commit only offsets whose outcomes are durable) → close/stop.
 *
 * The task only consumes: put decodes each event (streams/envelope.ts), claims the work in
 * Postgres (claims.ts: committed → syncing, which also drops events whose modification already
 * has an outcome: redeliveries, and tells apart those not visible yet), sorts it in the ledger
 * (ledger.ts: waiting, repeats, live; waits.ts owns what waits), has it checked (check.ts) and
 * hands it to the PFA lanes (lanes.ts). eachBatch returns as soon as the work is queued, so the
 * next fetch goes on while slow PFAs retry; offsets are committed
 * from the ledger as the recorder reports outcomes durable (kafkajs: eachBatchAutoResolve false,
 * explicit commits). Backpressure: while too much is in flight, put waits (heartbeating), which
 * pauses fetching; while PEMS is unreachable (health.ts, subscribed), fetching is paused.
 */
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { isValidTraceId, trace } from '@opentelemetry/api';
import { decodeChangeEvent } from '../../streams/envelope';
import { retryUnlessStopping } from '../kafka/consumer-retry';
import type { SinkMetrics } from '../observability/metrics';
import { extractContext, withSpan } from '../observability/tracing';
import type { Check } from './check';
import type { Claims } from './claims';
import type { PemsHealth, PemsState } from './health';
import type { PfaLanes } from './lanes';
import type { OffsetLedger } from './ledger';
import type { Recorder, SourceRecord } from './record';
import { Waits } from './waits';
import type { LaneItem } from './work';

export interface SinkTaskOptions {
  kafka: Kafka;
  /** The check room: context loading and the precheck of claimed edits. */
  check: Check;
  lanes: PfaLanes;
  recorder: Recorder;
  /** Offsets, in-flight and waiting events; the recorder reports durability to it. */
  ledger: OffsetLedger;
  /** Owned claims: work another live instance holds is waited for, not redone. */
  claims: Claims;
  /** Subscribed to: consumption pauses while PEMS is unreachable. */
  health: PemsHealth;
  logger: Logger;
  metrics: SinkMetrics;
  topic: string;
  groupId: string;
  sessionTimeoutMs: number;
  maxDeltaBytes: number;
  /** Most work items in flight before fetching pauses. */
  maxInFlight: number;
  /** Partitions whose fetched batches are handled at once. */
  partitionsConsumedConcurrently: number;
  shutdownTimeoutMs: number;
  /** Only these organizations' modifications are taken; empty: all. Others are skipped unclaimed. */
  organizations?: readonly string[];
  /** The consumer crashed on an error kafkajs does not restart it after: it stays stopped. */
  onCrashedForGood?: (err: unknown) => void;
  /** Test seams, never set in production. */
  hooks?: { beforeBatch?: () => void | Promise<void> };
}

export class SinkTask {
  private readonly consumer: Consumer;
  private readonly waits: Waits;
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
      retry: retryUnlessStopping(() => this.closing !== null),
    });
    const { GROUP_JOIN, CRASH, STOP, DISCONNECT } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      this.member = true;
      const now = new Set<string>();
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
        for (const p of partitions as number[]) now.add(`${topic}:${p}`);
      }
      opts.ledger.assign(now);
      opts.logger.info({ assignment: [...now] }, 'sink joined the consumer group');
    });
    this.consumer.on(CRASH, (e) => {
      this.crashed = !e.payload.restart;
      this.member = false;
      opts.logger.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
      if (this.crashed && !this.closing) opts.onCrashedForGood?.(e.payload.error);
    });
    this.consumer.on(STOP, () => (this.member = false));
    this.consumer.on(DISCONNECT, () => (this.member = false));
    opts.health.subscribe((_organization, state) => this.pemsStateChanged(state));
    this.waits = new Waits({ ...opts, dispatch: (items) => this.dispatch(items) });
  }

  ready(): { ready: boolean; checks: Record<string, boolean | string> } {
    return {
      ready: this.member && !this.closing,
      checks: { consumerGroupMember: this.member, pemsReachable: !this.opts.health.anyDown() },
    };
  }

  /** Partitions this instance owns now, as "topic:partition". */
  assignment(): string[] {
    return this.opts.ledger.assignment();
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
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.put(payload),
    });
    this.commitTimer = setInterval(() => void this.preCommit(), 1000);
    this.waits.start();
  }

  /** PEMS went down or came back: pause or resume fetching (lanes stop spending attempts). */
  private pemsStateChanged(state: PemsState): void {
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

  private put(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    // One span per fetched batch, continuing a trace carried in the first record's headers.
    return withSpan(
      'pems-sync.sink.batch',
      {
        'messaging.system': 'kafka',
        'messaging.destination.name': batch.topic,
        'messaging.kafka.partition': batch.partition,
        'messaging.batch.message_count': batch.messages.length,
      },
      () => this.putBatch(payload),
      extractContext(batch.messages[0]?.headers as never),
    );
  }

  private async putBatch(payload: EachBatchPayload): Promise<void> {
    await this.opts.hooks?.beforeBatch?.();
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    const { topic, partition } = batch;
    this.opts.metrics.batchSize.observe(batch.messages.length);
    const lag = batch.offsetLagLow();
    this.opts.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(lag));
    this.opts.metrics.consumerLagSeconds.set(
      { topic, partition: String(partition) },
      Number(lag) > 0 ? Math.max(0, (Date.now() - Number(batch.messages[0]?.timestamp ?? Date.now())) / 1000) : 0,
    );

    const work: LaneItem[] = [];
    const done: string[] = [];
    let last: string | null = null;
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) return;
      last = message.offset;
      this.opts.ledger.track(topic, partition, message.offset);
      const source = sourceOf(topic, partition, message);
      const decoded = decodeChangeEvent(
        {
          key: message.key,
          value: message.value,
          topic,
          partition,
          offset: message.offset,
          headers: message.headers as never,
        },
        { maxDeltaBytes: this.opts.maxDeltaBytes },
      );
      if (decoded.kind === 'skip') done.push(message.offset);
      else if (
        decoded.kind === 'poison' &&
        this.organizations &&
        !this.organizations.has(decoded.organizationId ?? '')
      ) {
        // Another shard's organization (or an unreadable key, which every shard sees): the
        // dead_letter_poison_once index keeps one dead letter whoever records it.
        if (decoded.organizationId !== null) done.push(message.offset);
        else
          void this.opts.recorder
            .submit({ kind: 'poison', reason: decoded.reason, source, modificationId: decoded.modificationId })
            .catch(() => undefined);
      } else if (decoded.kind === 'poison') {
        this.opts.metrics.deadLetters.inc({ reason: 'poison' });
        this.opts.logger.warn(
          { topic, partition, offset: message.offset, reason: decoded.reason },
          'poison event: dead-lettered',
        );
        void this.opts.recorder
          .submit({ kind: 'poison', reason: decoded.reason, source, modificationId: decoded.modificationId })
          .catch(() => undefined);
      } else if (this.organizations && !this.organizations.has(decoded.modification.organizationId)) {
        done.push(message.offset); // another deployment's organization: not ours to claim
      } else
        work.push({ modification: decoded.modification, position: decoded.position, traceId: decoded.traceId, source });
    }
    this.opts.ledger.markOffsetsDone(topic, partition, done);

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

  /** Claims the batch's modifications, checks them, rejects what cannot go, queues the rest. */
  private async dispatch(work: LaneItem[]): Promise<void> {
    const { claims, check, ledger, metrics, recorder, lanes } = this.opts;
    // Results carry the trace of the batch that handled them (Debezium events bring none of their own).
    const traceId = trace.getActiveSpan()?.spanContext().traceId;
    if (traceId && isValidTraceId(traceId)) for (const w of work) w.traceId ??= traceId;
    const ids = [...new Set(work.map((w) => w.modification.id))];
    // The previous status tells a fresh claim from one a stopped instance left in 'syncing'.
    const { claimed, held, unseen } = await claims.claim(ids);
    const intents = await check.intents(claimed.filter((r) => r.prev === 'syncing').map((r) => r.id));
    const { live, released, repeats } = ledger.sort(
      work,
      new Set(claimed.map((r) => r.id)),
      new Set(held),
      new Set(unseen),
    );
    if (unseen.length > 0) {
      metrics.claimsNotVisible.inc(unseen.length);
      this.waits.scheduleRevisit();
    }
    metrics.claimsWaiting.set(ledger.waitingCount());
    if (released.length > 0) await claims.release(released);
    if (live.length === 0) return;

    const checked = await check.check(live, intents);
    // From here on nothing can fail: each item is in hand until its outcome is durable.
    for (const c of checked) {
      const m = c.item.modification;
      ledger.startWorking(m.id, repeats.get(m.id)!);
      if (c.rejected) {
        metrics.modifications.inc({ outcome: 'rejected' });
        void recorder
          .submit({
            kind: 'outcome',
            outcome: c.rejected,
            modifications: [{ modification: m, source: c.item.source }],
            attempts: [],
            mirrorRecord: null,
            traceId: c.item.traceId ?? null,
          })
          .catch(() => undefined);
      } else lanes.enqueue(c.item, c.ctx);
    }
  }

  /** Commits, per assigned partition, the offset after the durable prefix. */
  preCommit(): Promise<void> {
    this.committing = this.committing.then(async () => {
      const topics = this.opts.ledger.committable();
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
      this.waits.stop(); // nothing more is taken over or claimed again
      const drained = await Promise.race([
        this.opts.lanes.drain().then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), this.opts.shutdownTimeoutMs).unref()),
      ]);
      if (!drained)
        log.warn(
          { inFlight: this.opts.lanes.inFlight() },
          'shutdown timeout: abandoning in-flight work (uncommitted, will be redelivered)',
        );
      this.opts.lanes.stop();
      this.opts.health.close();
      await this.opts.recorder.flush().catch((err) => log.error({ err }, 'final flush failed'));
      if (this.commitTimer) clearInterval(this.commitTimer);
      await this.preCommit().catch(() => undefined);
      await this.consumer.disconnect().catch((err) => log.error({ err }, 'consumer disconnect failed'));
    })();
    return this.closing;
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
