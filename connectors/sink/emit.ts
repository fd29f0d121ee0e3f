/**
 * The emit stage: drains the sink outbox (written in the same transaction as the outcomes) to
 * the result topic (Avro through the schema registry) and the dead-letter topic (the original
 * key, value and headers plus Kafka Connect's __connect.errors.* headers), then deletes what
 * Kafka acknowledged.
 *
 * Exactly one record per outcome for a read_committed consumer, whatever crashes (issue 13):
 *  - the rows of one drain are locked (FOR UPDATE SKIP LOCKED) in a Postgres transaction that
 *    also deletes them, so two instances never produce the same rows (one starting up drains
 *    what is left while another drains its own);
 *  - they are produced in one Kafka transaction, each record with its row id in a header; the
 *    transactional id is this process's slot (a Postgres advisory lock, the lowest free one),
 *    so a restarted process takes its predecessor's id and fences it: the dead process's open
 *    transaction is aborted at once rather than holding read_committed readers back;
 *  - a crash after the Kafka commit and before the delete leaves rows whose records are on the
 *    topic: a start reads the topics' tail (emitted.ts) and deletes those rows without producing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { Kafka, Producer, IHeaders } from 'kafkajs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { loadHeaders } from '../../streams/stored-headers';
import { deleteOutboxRows, drainOutboxRows, outboxLeftovers } from '../postgres/outbox';
import { releaseEmitSlot, takeEmitSlot, type EmitSlot } from '../postgres/emit-slot';
import { emittedOutboxIds, OUTBOX_ID_HEADER } from './emitted';

export { storeHeaders, loadHeaders, type StoredHeaders } from '../../streams/stored-headers';

/** Advisory-lock slots (transactional ids) tried per consumer group. */
const MAX_SLOTS = 256;
/** Leftover rows are looked for on the topics from this long before the oldest was written, ms (clock skew). */
const SCAN_MARGIN_MS = 60_000;
/** Outbox rows produced per Kafka transaction. */
const DRAIN_ROWS = 5000;

export const SYNC_RESULT_SCHEMA = readFileSync(join(__dirname, '../../schemas/avro/sync-result.avsc'), 'utf8');

export interface EmitterOptions {
  kafka: Kafka;
  db: Knex;
  registryUrl: string;
  registryAuth?: { username: string; password: string };
  resultsTopic: string;
  /** Prefix of the transactional ids (and the advisory-lock namespace): the sink's consumer group. */
  transactionalIdPrefix: string;
  /**
   * Tests only: called after a drain's Kafka transaction committed and before its rows are
   * deleted (a test kills the sink there).
   */
  afterProduce?: (rows: number) => Promise<void>;
  /**
   * Tests only: called after a drain's records were sent in its Kafka transaction and before the
   * commit (tests/regression/emit-broker-stopped-mid-commit stops the broker there, so the commit
   * fails and cannot be aborted).
   */
  beforeCommit?: (rows: number) => Promise<void>;
  /** Outbox rows produced per Kafka transaction. Default 5000. */
  drainRows?: number;
}

export class Emitter {
  private producer: Producer | null = null;
  private producerBroken = false;
  private readonly registry: SchemaRegistry;
  private schemaId: number | null = null;
  private draining: Promise<number> | null = null;
  /** The pooled connection holding this process's slot lock, and the slot. */
  private slot: EmitSlot | null = null;

  constructor(private readonly opts: EmitterOptions) {
    this.registry = new SchemaRegistry({ host: opts.registryUrl, auth: opts.registryAuth });
  }

  /** The transactional id in use, once started. */
  get transactionalId(): string | null {
    return this.slot ? `${this.opts.transactionalIdPrefix}.emit.${this.slot.n}` : null;
  }

  /** Takes the lowest free slot: an advisory lock held on one pooled connection for the process's life. */
  private async takeSlot(): Promise<EmitSlot> {
    const slot = await takeEmitSlot(this.opts.db, `pems-sync-emit:${this.opts.transactionalIdPrefix}`, MAX_SLOTS);
    if (!slot) throw new Error(`no free emitter slot of ${MAX_SLOTS} for ${this.opts.transactionalIdPrefix}`);
    return slot;
  }

  async start(): Promise<void> {
    this.slot = await this.takeSlot();
    await this.openProducer();
    this.schemaId = await this.registerSchema();
  }

  /**
   * Registers the result schema under the results topic's subject and resolves with its id.
   * Registering is idempotent: the same schema gets the same id (subject: TopicNameStrategy).
   * Instances starting together race on a new subject: the first registers and then sets the
   * subject's compatibility; the client library refuses to register while it still reads the
   * registry's default, so that refusal is retried briefly.
   */
  async registerSchema(): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { id } = await this.registry.register(
          { type: SchemaType.AVRO, schema: SYNC_RESULT_SCHEMA },
          { subject: `${this.opts.resultsTopic}-value` },
        );
        return id;
      } catch (err) {
        // Apicurio answers the second instance setting the new subject's compatibility with "A rule
        // named 'COMPATIBILITY' already exists": the subject is there, registering again succeeds.
        const raced = /Compatibility does not match|rule named 'COMPATIBILITY' already exists/;
        if (attempt >= 10 || !(err instanceof Error) || !raced.test(err.message)) throw err;
        await new Promise((r) => setTimeout(r, 300 * attempt));
      }
    }
  }

  /**
   * A transactional producer on this instance's slot. Initialising the transactional id fences a
   * predecessor with the same id and waits until its open transaction is aborted (or its commit
   * completed), so what is on the topic afterwards is final.
   */
  private async openProducer(): Promise<void> {
    this.producer = this.opts.kafka.producer({
      transactionalId: this.transactionalId!,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 30_000,
      allowAutoTopicCreation: false,
    });
    await this.producer.connect();
    await (await this.producer.transaction()).abort();
  }

  /** Produces the given outbox rows (or every row left, when ids is undefined) and deletes them. */
  drain(ids?: readonly string[]): Promise<number> {
    const limit = this.opts.drainRows ?? DRAIN_ROWS;
    // Given ids are produced in transactions of at most `limit` rows, all of them: a flush's
    // outcomes are marked durable once this resolves, so none may be left for a later start.
    const run = async (): Promise<number> => {
      if (ids === undefined) return this.produce(undefined, limit);
      let n = 0;
      for (let i = 0; i < ids.length; i += limit) n += await this.produce(ids.slice(i, i + limit), limit);
      return n;
    };
    // One drain at a time: two would produce the same rows twice.
    const prev = this.draining ?? Promise.resolve(0);
    const next = prev
      .catch(() => 0)
      .then(run)
      .then(
        (n) => {
          this.lastDrainError = null;
          return n;
        },
        (err: unknown) => {
          this.lastDrainError = err;
          throw err;
        },
      );
    this.draining = next;
    return next;
  }

  /** One Kafka transaction: up to `limit` of the given rows (or of every row left) produced and deleted. */
  private produce(ids: readonly string[] | undefined, limit: number): Promise<number> {
    return drainOutboxRows(this.opts.db, { ids, limit }, async (rows) => {
      const byTopic = new Map<string, Array<{ key: Buffer | null; value: Buffer | null; headers: IHeaders }>>();
      for (const r of rows) {
        const value = r.kind === 'result' ? await this.registry.encode(this.schemaId!, r.value) : r.rawValue;
        const list = byTopic.get(r.topic) ?? [];
        list.push({ key: r.key, value, headers: { ...loadHeaders(r.headers), [OUTBOX_ID_HEADER]: r.id } });
        byTopic.set(r.topic, list);
      }
      // After a failed transaction the producer is replaced before the next one. A commit that
      // failed and could not be aborted (the broker went away mid-commit) leaves it able to begin
      // no transaction. And a send that failed after the broker stored its batch (the answers
      // lost) leaves kafkajs handing the same sequence numbers to the next batch, which the broker
      // then drops as a duplicate of the aborted one: the rows would be deleted, never emitted.
      // The new producer fences the old, aborts its transaction and starts its sequences afresh;
      // until that succeeds, drains fail.
      if (this.producerBroken) {
        await this.producer?.disconnect().catch(() => undefined);
        await this.openProducer();
        this.producerBroken = false;
      }
      const txn = await this.producer!.transaction();
      try {
        await txn.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
        await this.opts.beforeCommit?.(rows.length);
        await txn.commit();
      } catch (err) {
        this.producerBroken = true;
        await txn.abort().catch(() => undefined);
        throw err;
      }
      await this.opts.afterProduce?.(rows.length);
    });
  }

  /** The error the last drain failed with, until a drain succeeds. */
  private lastDrainError: unknown = null;

  /** Whether `err` is what the last drain failed with (the sink's fatal log names the stage). */
  failedDrainWith(err: unknown): boolean {
    return err !== null && err === this.lastDrainError;
  }

  /**
   * Everything left in the outbox (a previous crash), in chunks; first the rows whose records a
   * crashed run already committed to Kafka are deleted without producing them again.
   */
  async drainAll(): Promise<number> {
    const left = await outboxLeftovers(this.opts.db);
    if (left.length > 0) {
      const since = Math.min(...left.map((l) => l.sinceMs)) - SCAN_MARGIN_MS;
      const found = await emittedOutboxIds(
        this.opts.kafka,
        left.map((l) => l.topic),
        { sinceMs: since },
      );
      await deleteOutboxRows(this.opts.db, [...found.ids]);
      this.alreadyEmitted = found.ids.size;
    }
    let total = 0;
    for (;;) {
      const n = await this.drain();
      total += n;
      if (n === 0) return total;
    }
  }

  /** Outbox rows the last drainAll found on the topics already (a crash after the Kafka commit). */
  alreadyEmitted = 0;

  async close(): Promise<void> {
    await this.draining?.catch(() => undefined);
    await this.producer?.disconnect();
    if (this.slot) {
      const slot = this.slot;
      this.slot = null;
      await releaseEmitSlot(this.opts.db, slot);
    }
  }
}
