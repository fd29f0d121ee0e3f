/**
 * The mirror stream: consume the raw topic, validate and normalize each PEMS record
 * (streams/mirror.normalizePemsRecord: typed fields, calendar dates, money in cents) and move
 * pfa_mirror forward only to a newer version (connectors/postgres/mirror.applyMirrorVersion:
 * history row per version, older and duplicate versions ignored, so replays are safe).
 *
 * Offsets follow durability (kafkajs runner.js; eachBatchAutoResolve false): a record's offset
 * is resolved only after its transaction committed, or after its dead letter was acknowledged.
 * A database failure throws out of the batch; kafkajs restarts from the last resolved offset.
 *
 * Records that fail decoding or validation go to the mirror dead-letter topic with their
 * original key, value and headers plus Kafka Connect's __connect.errors.* context headers
 * (streams/outcomes.toDeadLetterHeaders), and the stream continues.
 *
 * Early conflict warning (./early-warning.ts): in the same transaction as the mirror update,
 * a newer PEMS version that moves a field a committed-but-unsynced modification also changes
 * opens a sync_conflict (detected_by 'early_warning'), notifies the modification's user and
 * writes an audit entry. The modification's sync_status is not touched: the sink decides at
 * write time.
 */
import type { Knex } from 'knex';
import { type Consumer, type EachBatchPayload, type IHeaders, type Kafka, type KafkaMessage } from 'kafkajs';
import { retryUnlessStopping } from '../kafka/consumer-retry';
import { IdempotentProducer } from '../kafka/idempotent-producer';
import { normalizePemsRecord, type UpsertDecision } from '../../streams/mirror';
import { PemsSyncError } from '../../streams/errors';
import { toDeadLetterHeaders, type DeadLetterStage, type KafkaHeaders } from '../../streams/outcomes';
import type { PfaRecord } from '../../streams/pfa-record';
import { applyMirrorVersion, getMirrorVersion, lockMirrorRow } from '../postgres/mirror';
import { hasOpenConflict, insertEarlyWarningConflict } from '../postgres/conflicts';
import { insertNotification } from '../postgres/notifications';
import { lockPendingUpdates } from '../postgres/pending-modifications';
import { appendAudit } from '../postgres/audit';
import { decodeRaw } from './raw';
import { earlyWarningFields, PENDING_SYNC_STATUSES, type WarningField } from './early-warning';
import type { SourceMetrics } from './metrics';
import { silentLogger, type SourceLogger } from './poller';

export const MIRROR_ACTOR = 'system:mirror';

/** A raw record the mirror refuses: it goes to the dead-letter topic. */
export class MirrorRecordError extends PemsSyncError {
  constructor(
    readonly stage: Exclude<DeadLetterStage, 'PEMS_WRITE'>,
    reason: string,
    cause?: unknown,
  ) {
    super(stage === 'MIRROR_WRITE' ? 'PEMS_SYNC_MIRROR_RECORD_UNWRITABLE' : 'PEMS_SYNC_MIRROR_RECORD_INVALID', reason, {
      details: { stage, reason },
      cause,
    });
  }
}

export interface MirrorStreamOptions {
  kafka: Kafka;
  db: Knex;
  /** The raw topic (config topics.pemsRaw). */
  topic: string;
  /** The mirror's dead-letter topic (config topics.mirrorDeadLetters). */
  deadLetterTopic: string;
  /** Consumer group (config source.groupId). */
  groupId: string;
  /** Read a new group from the earliest offset. Default true: the raw topic is the mirror's log. */
  fromBeginning?: boolean;
  /** config kafka.sessionTimeoutMs. Default 30000. */
  sessionTimeoutMs?: number;
  /** Name in the dead-letter headers. Default 'pems-sync-mirror'. */
  connectorName?: string;
  metrics?: SourceMetrics;
  logger?: SourceLogger;
  /** Test seams, never set in production. */
  hooks?: {
    /** Before a fetched batch is handled. Throw to simulate an error inside the consumer there. */
    beforeBatch?: (ctx: { topic: string; partition: number; messages: number }) => void | Promise<void>;
  };
}

export interface MirrorApplyResult {
  decision: UpsertDecision;
  warnings: Array<{ conflictId: string; modificationId: string; fields: WarningField[] }>;
}

/**
 * Applies one normalized PEMS record: mirror + history, then early warnings, in one transaction.
 * Exported for tests and for replays of dead letters.
 */
export async function applyPemsRecord(db: Knex, record: PfaRecord): Promise<MirrorApplyResult> {
  return db.transaction(async (trx) => {
    // Lock the mirror row so the "previous version" we compare with is the one we replace
    // (the sink may write the same record concurrently).
    const prevRow = await lockMirrorRow(trx, record.organization, record.pfaId);
    const decision = await applyMirrorVersion(trx, { record, origin: 'pems' });
    const warnings: MirrorApplyResult['warnings'] = [];
    if (decision !== 'update' || !prevRow) return { decision, warnings };

    const previous = prevRow.data as unknown as Record<string, unknown>;
    // Serializes with another early warning (and the sink) on the same modification.
    const mods = await lockPendingUpdates(trx, {
      organizationId: record.organization,
      pfaId: record.pfaId,
      beforeVersion: record.version,
      statuses: PENDING_SYNC_STATUSES,
    });
    for (const mod of mods) {
      const base = await getMirrorVersion(trx, record.organization, record.pfaId, mod.baseVersion);
      const fields = earlyWarningFields({
        delta: mod.delta ?? {},
        baseVersion: mod.baseVersion,
        previous,
        current: record,
        baseValues: base as unknown as Record<string, unknown> | null,
      });
      if (fields.length === 0) continue;
      if (await hasOpenConflict(trx, mod.id)) continue;
      const conflictId = await insertEarlyWarningConflict(trx, {
        organizationId: record.organization,
        pfaId: record.pfaId,
        modificationId: mod.id,
        baseVersion: mod.baseVersion,
        pemsVersion: record.version,
        fields,
      });
      const payload = {
        conflictId,
        modificationId: mod.id,
        pfaId: record.pfaId,
        baseVersion: mod.baseVersion,
        pemsVersion: record.version,
        pemsUpdatedBy: record.updatedBy,
        fields,
      };
      await insertNotification(trx, record.organization, mod.userId, 'conflict_warning', payload);
      await appendAudit(trx, {
        organizationId: record.organization,
        pfaId: record.pfaId,
        modificationId: mod.id,
        actor: MIRROR_ACTOR,
        eventType: 'conflict.early_warning',
        details: payload,
      });
      warnings.push({ conflictId, modificationId: mod.id, fields });
    }
    return { decision, warnings };
  });
}

/** Postgres errors that no retry can fix: the record itself cannot be stored (e.g. an unknown organization). */
const UNWRITABLE_PG_CODES = new Set(['23503', '23502', '22001', '22003', '22007', '22008', '22P02']);

/** First pause before a consumer that kafkajs gave up on is replaced, ms; doubles up to the maximum. */
const REPLACE_DELAY_MS = 1000;
const REPLACE_DELAY_MAX_MS = 30_000;

export class MirrorStream {
  private readonly opts: MirrorStreamOptions;
  private consumer: Consumer;
  private readonly producer: IdempotentProducer;
  private readonly logger: SourceLogger;
  private started?: Promise<void>;
  private stopped?: Promise<void>;
  private stopping = false;
  private member = false;
  private replaceDelayMs = REPLACE_DELAY_MS;
  private replaceTimer?: NodeJS.Timeout;
  private replacing?: Promise<void>;

  constructor(options: MirrorStreamOptions) {
    this.opts = options;
    this.logger = options.logger ?? silentLogger;
    this.consumer = this.createConsumer();
    // The dead letters' producer, replaced after a failed send (../kafka/idempotent-producer.ts).
    this.producer = new IdempotentProducer(options.kafka);
  }

  /** Connected and a member of the consumer group. */
  get ready(): boolean {
    return this.member;
  }

  start(): Promise<void> {
    this.started ??= (async () => {
      await this.producer.connect();
      await this.run(this.consumer);
    })();
    return this.started;
  }

  /** Idempotent: finishes the record in flight, commits resolved offsets, disconnects. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      clearTimeout(this.replaceTimer);
      for (const step of [
        () => this.started?.catch(() => undefined),
        () => this.replacing,
        () => this.consumer.disconnect(),
        () => this.producer.disconnect(),
      ]) {
        try {
          await step();
        } catch (e) {
          this.logger.warn({ err: e }, 'mirror stream stop step failed');
        }
      }
      this.member = false;
    })();
    return this.stopped;
  }

  /**
   * A consumer of the raw topic. kafkajs restarts it by itself after a crash it deems retriable;
   * after any other (an error of its own, such as a TypeError from a connection closed under a
   * request) it stays stopped, and the mirror would fall behind PEMS for good. Such a consumer
   * is replaced by a new one: offsets are resolved only after durability, so the new member
   * resumes from the last durable record.
   */
  private createConsumer(): Consumer {
    const consumer = this.opts.kafka.consumer({
      groupId: this.opts.groupId,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 30_000,
      maxWaitTimeInMs: 500,
      retry: retryUnlessStopping(() => this.stopping),
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.member = true;
      this.replaceDelayMs = REPLACE_DELAY_MS;
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.member = false;
      const restart = e.payload.restart;
      this.logger.error({ err: e.payload.error, restart }, 'mirror consumer crashed');
      if (!restart) this.replaceLater(consumer);
    });
    return consumer;
  }

  private async run(consumer: Consumer): Promise<void> {
    await consumer.connect();
    await consumer.subscribe({ topic: this.opts.topic, fromBeginning: this.opts.fromBeginning ?? true });
    await consumer.run({
      eachBatchAutoResolve: false,
      autoCommit: true,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  private replaceLater(crashed: Consumer): void {
    if (this.stopping || crashed !== this.consumer) return;
    const delayMs = this.replaceDelayMs;
    this.replaceDelayMs = Math.min(delayMs * 2, REPLACE_DELAY_MAX_MS);
    this.opts.metrics?.failures.inc({ organization: '', stage: 'mirror_consumer' });
    this.logger.warn({ delayMs }, 'mirror consumer stopped for good; replacing it with a new one');
    this.replaceTimer = setTimeout(() => {
      this.replacing = this.replace(crashed);
    }, delayMs);
  }

  private async replace(crashed: Consumer): Promise<void> {
    if (this.stopping) return;
    await crashed.disconnect().catch(() => undefined);
    const next = this.createConsumer();
    this.consumer = next;
    try {
      await this.run(next);
    } catch (e) {
      this.logger.error({ err: e }, 'the new mirror consumer did not start');
      await next.disconnect().catch(() => undefined);
      this.replaceLater(next);
    }
  }

  private async handleBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
    commitOffsetsIfNecessary,
  }: EachBatchPayload): Promise<void> {
    await this.opts.hooks?.beforeBatch?.({
      topic: batch.topic,
      partition: batch.partition,
      messages: batch.messages.length,
    });
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      await this.handleMessage(batch.topic, batch.partition, message);
      resolveOffset(message.offset);
      await heartbeat();
    }
    await commitOffsetsIfNecessary();
  }

  private async handleMessage(topic: string, partition: number, message: KafkaMessage): Promise<void> {
    const metrics = this.opts.metrics;
    try {
      const decoded = decodeRaw(message.key, message.value);
      if (!decoded.ok) throw new MirrorRecordError('DECODE', decoded.reason);
      const normalized = normalizePemsRecord(decoded.record);
      if (!normalized.ok) throw new MirrorRecordError('VALIDATE', normalized.reason);
      const record = normalized.record;
      if (record.organization !== decoded.key.organization_id) {
        throw new MirrorRecordError(
          'VALIDATE',
          `record of organization ${record.organization} polled for ${decoded.key.organization_id}`,
        );
      }
      let result: MirrorApplyResult;
      try {
        result = await applyPemsRecord(this.opts.db, record);
      } catch (e) {
        const pgCode = (e as { code?: unknown }).code;
        if (typeof pgCode === 'string' && UNWRITABLE_PG_CODES.has(pgCode)) {
          throw new MirrorRecordError('MIRROR_WRITE', `the mirror cannot store it: ${(e as Error).message}`, e);
        }
        // Anything else (connection lost, deadlock, timeout) is retried: the offset stays unresolved.
        metrics?.failures.inc({ organization: record.organization, stage: 'mirror_write' });
        throw e;
      }
      metrics?.mirrorRecords.inc({ outcome: result.decision });
      if (result.warnings.length > 0) {
        metrics?.earlyWarnings.inc({ organization: record.organization }, result.warnings.length);
        this.logger.info(
          {
            organization: record.organization,
            pfaId: record.pfaId,
            pemsVersion: record.version,
            warnings: result.warnings.map((w) => w.modificationId),
          },
          'early conflict warning raised',
        );
      }
    } catch (e) {
      if (!(e instanceof MirrorRecordError)) throw e;
      await this.deadLetter(topic, partition, message, e);
    }
  }

  private async deadLetter(
    topic: string,
    partition: number,
    message: KafkaMessage,
    error: MirrorRecordError,
  ): Promise<void> {
    const headers = toDeadLetterHeaders(
      message.headers as KafkaHeaders | undefined,
      { topic, partition, offset: message.offset },
      error,
      { connectorName: this.opts.connectorName ?? 'pems-sync-mirror', stage: error.stage },
    );
    // Produced (and acknowledged) before the offset is resolved: a crash in between re-sends the
    // dead letter, never loses it (Kafka Connect's DeadLetterQueueReporter does the same).
    await this.producer.send({
      topic: this.opts.deadLetterTopic,
      messages: [{ key: message.key, value: message.value, headers: headers as IHeaders }],
    });
    let organization: string;
    try {
      organization = message.key ? String(JSON.parse(message.key.toString()).organization_id ?? '') : '';
    } catch {
      organization = '';
    }
    this.opts.metrics?.mirrorRecords.inc({ outcome: 'dead_letter' });
    this.opts.metrics?.failures.inc({ organization, stage: error.stage.toLowerCase() });
    this.logger.warn(
      { topic, partition, offset: message.offset, organization, stage: error.stage, reason: error.message },
      'raw record dead-lettered',
    );
  }
}
