/**
 * A service that subscribes to pems-sync's outcomes: SyncResult records (Avro, decoded through
 * the schema registry) and dead letters, per the README's "The result topics: a contract for
 * consumers". Copy it as a start; it depends only on kafkajs and @kafkajs/confluent-schema-registry.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7 \
 *   GROUP_ID=my-service npx tsx examples/result-consumer.ts
 *
 * Delivery is at least once: a record can come twice (after a crash of the sink or of this
 * consumer), so handle it idempotently, e.g. keyed by modificationId + outcome.
 */
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';

export interface SyncResult {
  modificationId: string;
  organizationId: string;
  pfaId: string;
  userId: string;
  outcome: 'SYNCED' | 'CONFLICT' | 'REJECTED' | 'FAILED' | 'SUPERSEDED' | 'SKIPPED';
  baseVersion: number;
  pemsVersionBefore: number | null;
  pemsVersionAfter: number | null;
  fieldsWritten: string[];
  rebased: boolean;
  attempts: number;
  error: { code: string; message: string; fieldErrors: Array<{ field: string; message: string }> | null } | null;
  committedAt: number | null;
  syncedAt: number | null;
  latencyMs: number | null;
  detail: string | null;
  traceId: string | null;
  coalescedWith: string[];
}

export interface DeadLetter {
  organizationId: string | null;
  pfaId: string | null;
  /** The modification the event was about, when the event could be decoded. */
  modificationId: string | null;
  /** PEMS_SYNC_* (header __pems_sync.errors.code): the same code as the result record's error.code. */
  code: string | null;
  reason: string | null;
}

export interface ConsumerOptions {
  brokers: string[];
  registryUrl: string;
  groupId: string;
  resultTopic?: string;
  deadLetterTopic?: string;
  fromBeginning?: boolean;
  onResult(
    key: { organizationId: string; pfaId: string },
    result: SyncResult,
    at: { partition: number; offset: string },
  ): Promise<void> | void;
  onDeadLetter?(dl: DeadLetter, at: { partition: number; offset: string }): Promise<void> | void;
}

const text = (v: unknown): string | null =>
  v === undefined
    ? null
    : Buffer.isBuffer(v)
      ? v.toString('utf8')
      : Array.isArray(v)
        ? text(v[v.length - 1])
        : String(v);

/**
 * Starts consuming; resolves with the consumer (disconnect() stops it). Offsets are committed after
 * each handler returns.
 */
export async function consumeSyncResults(opts: ConsumerOptions): Promise<Consumer> {
  const resultTopic = opts.resultTopic ?? 'pems-sync.results';
  const deadLetterTopic = opts.deadLetterTopic ?? 'pems-sync.dead-letters';
  const registry = new SchemaRegistry({ host: opts.registryUrl });
  const kafka = new Kafka({ clientId: opts.groupId, brokers: opts.brokers, logLevel: logLevel.WARN });
  const consumer = kafka.consumer({ groupId: opts.groupId });
  await consumer.connect();
  await consumer.subscribe({ topics: [resultTopic, deadLetterTopic], fromBeginning: opts.fromBeginning ?? false });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const at = { partition, offset: message.offset };
      // Both topics are keyed by {"organization_id", "pfa_id"} (JSON): a PFA's records are in order on one partition.
      const key = JSON.parse(message.key?.toString('utf8') ?? '{}') as { organization_id?: string; pfa_id?: string };
      if (topic === resultTopic) {
        const result = (await registry.decode(message.value!)) as SyncResult;
        await opts.onResult(
          { organizationId: key.organization_id ?? result.organizationId, pfaId: key.pfa_id ?? result.pfaId },
          result,
          at,
        );
      } else if (opts.onDeadLetter) {
        let modificationId: string | null = null;
        try {
          modificationId =
            (JSON.parse(message.value?.toString('utf8') ?? 'null') as { after?: { id?: string } } | null)?.after?.id ??
            null;
        } catch {
          // a poison event: its value is what could not be decoded
        }
        await opts.onDeadLetter(
          {
            organizationId: key.organization_id ?? null,
            pfaId: key.pfa_id ?? null,
            modificationId,
            code: text(message.headers?.['__pems_sync.errors.code']),
            reason: text(message.headers?.['__connect.errors.exception.message']),
          },
          at,
        );
      }
    },
  });
  return consumer;
}

if (require.main === module) {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  void consumeSyncResults({
    brokers,
    registryUrl: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
    groupId: process.env.GROUP_ID ?? 'example-result-consumer',
    resultTopic: process.env.PEMS_SYNC_RESULT_TOPIC,
    deadLetterTopic: process.env.PEMS_SYNC_DLQ_TOPIC,
    fromBeginning: process.env.FROM_BEGINNING === '1',
    onResult: (key, r) =>
      console.log(
        `${r.outcome} ${key.organizationId}/${key.pfaId} modification ${r.modificationId}${r.error ? ` ${r.error.code}: ${r.error.message}` : ''}`,
      ),
    onDeadLetter: (d) => console.log(`DEAD_LETTER ${d.organizationId}/${d.pfaId} ${d.code}: ${d.reason}`),
  });
}
