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
 *
 * A row whose topic does not exist on the cluster holds back only that topic (missing-topics.ts):
 * its rows stay in the outbox and are left out of every drain, the other topics' rows keep
 * flowing, and every few seconds the held topics are looked for again; one that exists again has
 * its tail read like a start's (emitted.ts) and its rows emitted, oldest first, before it is
 * released, so its rows keep their order.
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
import { MissingTopics, type HeldTopicEvent } from './missing-topics';
import { javaCompatiblePartitioner } from '../kafka/partitioner';

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
  /** How often held topics (not on the cluster) are looked for again, ms. Default 10000. */
  heldRecheckMs?: number;
  /** A topic held back (its rows wait in the outbox), its rows counted again, or back and emitted. */
  onHeldTopic?: (event: HeldTopicEvent) => void;
}

export class Emitter {
  private producer: Producer | null = null;
  private producerBroken = false;
  private readonly registry: SchemaRegistry;
  private schemaId: number | null = null;
  private draining: Promise<number> | null = null;
  /** The pooled connection holding this process's slot lock, and the slot. */
  private slot: EmitSlot | null = null;
  /** Topics not on the cluster: their rows wait in the outbox. */
  readonly missing: MissingTopics;

  constructor(private readonly opts: EmitterOptions) {
    this.registry = new SchemaRegistry({ host: opts.registryUrl, auth: opts.registryAuth });
    this.missing = new MissingTopics({
      kafka: opts.kafka,
      recheck: () => void this.recheck(),
      recheckMs: opts.heldRecheckMs ?? 10_000,
      onEvent: opts.onHeldTopic,
    });
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
      // Same partition for a key as the CDC topic (Kafka's Java client), without kafkajs's Long arithmetic.
      createPartitioner: javaCompatiblePartitioner,
    });
    await this.producer.connect();
    await (await this.producer.transaction()).abort();
  }

  /**
   * Produces the given outbox rows (or every row left, when ids is undefined) and deletes them;
   * rows of held topics stay in the outbox (the recheck emits them).
   */
  drain(ids?: readonly string[]): Promise<number> {
    const limit = this.opts.drainRows ?? DRAIN_ROWS;
    // Given ids are produced in transactions of at most `limit` rows, all of them but those of held
    // topics: a flush's outcomes are marked durable once this resolves, so none may be left behind
    // but rows the recheck emits once their topic exists.
    const run = async (): Promise<number> => {
      if (ids === undefined) return this.produceOrHold({ limit });
      let n = 0;
      for (let i = 0; i < ids.length; i += limit)
        n += await this.produceOrHold({ ids: ids.slice(i, i + limit), limit });
      return n;
    };
    return this.serially(run).then(
      (n) => {
        this.lastDrainError = null;
        return n;
      },
      (err: unknown) => {
        this.lastDrainError = err;
        throw err;
      },
    );
  }

  /** One drain at a time (two would produce the same rows twice); a failed one does not stop the next. */
  private serially(run: () => Promise<number>): Promise<number> {
    const prev = this.draining ?? Promise.resolve(0);
    const next = prev.catch(() => 0).then(run);
    this.draining = next;
    return next;
  }

  /**
   * One Kafka transaction of the rows `scope` selects, but none of a held topic. When it fails on a
   * topic the cluster does not have, that topic is held and the transaction runs again without it.
   */
  private async produceOrHold(scope: { ids?: readonly string[]; limit: number }): Promise<number> {
    for (;;) {
      const tried = new Set<string>();
      try {
        return await this.produce({ ...scope, exceptTopics: [...this.missing.list().keys()] }, tried);
      } catch (err) {
        const missing = await this.missing.missingOf(err, tried);
        if (missing.length === 0 || missing.some((t) => this.missing.has(t))) throw err;
        await this.hold(missing);
      }
    }
  }

  /** Holds `topics` back, their rows counted; the recheck runs while any is held. */
  private async hold(topics: readonly string[]): Promise<void> {
    this.missing.hold(topics, await outboxLeftovers(this.opts.db).catch(() => []));
  }

  /**
   * Looks for the held topics on the cluster; one that exists again has its tail read for rows a
   * crashed run already committed and its rows emitted, oldest first, then it is released.
   * Failures leave the topics held for the next recheck.
   */
  private recheck(): Promise<number> {
    return this.serially(async () => {
      const held = [...this.missing.list().keys()];
      const back = [...(await this.missing.present(held))];
      let total = 0;
      if (back.length > 0) {
        await this.deleteAlreadyEmitted(back);
        const emitted = new Map(back.map((t) => [t, 0]));
        const scope = { limit: this.opts.drainRows ?? DRAIN_ROWS, topics: back, exceptTopics: [] };
        for (let n = -1; n !== 0; total += n) n = await this.produce(scope, new Set(), emitted);
        for (const [t, n] of emitted) this.missing.release(t, n);
      }
      await this.hold(held.filter((h) => this.missing.has(h)));
      return total;
    }).catch(() => 0); // the topics stay held, looked for again at the next recheck
  }

  /** One Kafka transaction: up to `limit` rows that `scope` selects produced and deleted; `tried` gets their topics. */
  private produce(
    scope: { ids?: readonly string[]; limit: number; topics?: string[]; exceptTopics: string[] },
    tried: Set<string>,
    produced?: Map<string, number>,
  ): Promise<number> {
    return drainOutboxRows(this.opts.db, scope, async (rows) => {
      const byTopic = new Map<string, Array<{ key: Buffer | null; value: Buffer | null; headers: IHeaders }>>();
      for (const r of rows) {
        const value = r.kind === 'result' ? await this.registry.encode(this.schemaId!, r.value) : r.rawValue;
        const list = byTopic.get(r.topic) ?? [];
        list.push({ key: r.key, value, headers: { ...loadHeaders(r.headers), [OUTBOX_ID_HEADER]: r.id } });
        byTopic.set(r.topic, list);
        tried.add(r.topic);
      }
      // A topic not seen on the cluster yet is looked for first: one that is not there is held
      // at once (this transaction rolled back) rather than after the producer's retries.
      await this.missing.check(byTopic.keys());
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
      for (const [t, list] of byTopic) produced?.set(t, (produced.get(t) ?? 0) + list.length);
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
      const topics = left.map((l) => l.topic);
      const present = await this.missing.present(topics);
      const absent = topics.filter((t) => !present.has(t));
      // What was on a topic that is gone is gone with it: a held topic's rows are emitted once it is back.
      if (absent.length > 0) await this.hold(absent);
      this.alreadyEmitted = await this.deleteAlreadyEmitted([...present]);
    }
    let total = 0;
    for (;;) {
      const n = await this.drain();
      total += n;
      if (n === 0) return total;
    }
  }

  /**
   * Deletes, without producing them again, the outbox rows of `topics` whose records a crashed run
   * already committed to Kafka; resolves with how many.
   */
  private async deleteAlreadyEmitted(topics: readonly string[]): Promise<number> {
    const left = (await outboxLeftovers(this.opts.db)).filter((l) => topics.includes(l.topic));
    if (left.length === 0) return 0;
    const since = Math.min(...left.map((l) => l.sinceMs)) - SCAN_MARGIN_MS;
    const found = await emittedOutboxIds(
      this.opts.kafka,
      left.map((l) => l.topic),
      { sinceMs: since },
    );
    await deleteOutboxRows(this.opts.db, [...found.ids]);
    return found.ids.size;
  }

  /** Outbox rows the last drainAll found on the topics already (a crash after the Kafka commit). */
  alreadyEmitted = 0;

  async close(): Promise<void> {
    this.missing.close();
    await this.draining?.catch(() => undefined);
    await this.producer?.disconnect();
    if (this.slot) {
      const slot = this.slot;
      this.slot = null;
      await releaseEmitSlot(this.opts.db, slot);
    }
  }
}
