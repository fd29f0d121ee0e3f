/**
 * The emit stage: drains the sink outbox (written in the same transaction as the outcomes) to
 * the result topic (Avro through the schema registry) and the dead-letter topic (the original
 * key, value and headers plus Kafka Connect's __connect.errors.* headers), then deletes what
 * Kafka acknowledged. An idempotent producer with acks=all: a retry inside the producer never
 * duplicates a record.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { Kafka, Producer, IHeaders } from 'kafkajs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { KafkaHeaders, SyncResultRecord } from '../../streams/outcomes';

export const SYNC_RESULT_SCHEMA = readFileSync(join(__dirname, '../../schemas/avro/sync-result.avsc'), 'utf8');

/** Headers as stored in JSON: every value base64, multi-valued kept as arrays. */
export type StoredHeaders = Record<string, string[]>;

export function storeHeaders(h: KafkaHeaders | IHeaders | undefined): StoredHeaders {
  const out: StoredHeaders = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    const list = Array.isArray(v) ? v : [v];
    out[k] = list.map((x) => Buffer.from(x as Buffer | string).toString('base64'));
  }
  return out;
}

export function loadHeaders(s: StoredHeaders): IHeaders {
  const out: IHeaders = {};
  for (const [k, list] of Object.entries(s)) {
    const bufs = list.map((b) => Buffer.from(b, 'base64'));
    out[k] = bufs.length === 1 ? bufs[0]! : bufs;
  }
  return out;
}

export interface OutboxRow {
  kind: 'result' | 'dead_letter';
  topic: string;
  record_key: Buffer | null;
  record_value: SyncResultRecord | null;
  raw_value: Buffer | null;
  record_headers: StoredHeaders;
}

export interface EmitterOptions {
  kafka: Kafka;
  db: Knex;
  registryUrl: string;
  registryAuth?: { username: string; password: string };
  resultsTopic: string;
}

export class Emitter {
  private readonly producer: Producer;
  private readonly registry: SchemaRegistry;
  private schemaId: number | null = null;
  private draining: Promise<number> | null = null;

  constructor(private readonly opts: EmitterOptions) {
    // Idempotent producer: broker-side dedupe of the producer's own retries (acks=all, 1..5 in flight).
    this.producer = opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    this.registry = new SchemaRegistry({ host: opts.registryUrl, auth: opts.registryAuth });
  }

  async start(): Promise<void> {
    await this.producer.connect();
    // Registering is idempotent: the same schema gets the same id (subject: TopicNameStrategy).
    // Instances starting together race on a new subject: the first registers and then sets the
    // subject's compatibility; the client library refuses to register while it still reads the
    // registry's default, so that refusal is retried briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        const { id } = await this.registry.register(
          { type: SchemaType.AVRO, schema: SYNC_RESULT_SCHEMA },
          { subject: `${this.opts.resultsTopic}-value` },
        );
        this.schemaId = id;
        return;
      } catch (err) {
        if (attempt >= 10 || !(err instanceof Error) || !/Compatibility does not match/.test(err.message)) throw err;
        await new Promise((r) => setTimeout(r, 300 * attempt));
      }
    }
  }

  /** Produces the given outbox rows (or every row left, when ids is undefined) and deletes them. */
  drain(ids?: readonly string[]): Promise<number> {
    // One drain at a time: two would produce the same rows twice.
    const run = async (): Promise<number> => {
      const q = this.opts.db('sink_outbox').orderBy('id').limit(5000).select('*');
      const rows = ids ? await q.whereIn('id', ids as string[]) : await q;
      if (rows.length === 0) return 0;
      const byTopic = new Map<string, Array<{ key: Buffer | null; value: Buffer | null; headers: IHeaders }>>();
      for (const r of rows) {
        const value =
          r.kind === 'result' ? await this.registry.encode(this.schemaId!, r.record_value as SyncResultRecord) : (r.raw_value as Buffer | null);
        const list = byTopic.get(r.topic) ?? [];
        list.push({ key: r.record_key as Buffer | null, value, headers: loadHeaders(r.record_headers as StoredHeaders) });
        byTopic.set(r.topic, list);
      }
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      await this.opts.db('sink_outbox').whereIn('id', rows.map((r) => r.id)).del();
      return rows.length;
    };
    const prev = this.draining ?? Promise.resolve(0);
    const next = prev.catch(() => 0).then(run);
    this.draining = next;
    return next;
  }

  /** Everything left in the outbox (a previous crash), in chunks. */
  async drainAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.drain();
      total += n;
      if (n === 0) return total;
    }
  }

  async close(): Promise<void> {
    await this.draining?.catch(() => undefined);
    await this.producer.disconnect();
  }
}
