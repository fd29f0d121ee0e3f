/**
 * Outbox fixtures for emitter tests: result rows told apart by their modification id, and what a
 * read_committed consumer sees of a result topic.
 */
import type { Knex } from 'knex';
import type { Kafka } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Emitter, type EmitterOptions } from '../../connectors/sink/emit';
import { OUTBOX_ID_HEADER } from '../../connectors/sink/emitted';
import type { OutboxRecord } from '../../streams/outcome-rows';
import { collect } from './kafka';
import { testEnv } from './env';

/** One result row for the outbox, told apart by its modification id. */
export function resultRow(topic: string, organizationId: string, modificationId: string): OutboxRecord {
  return {
    kind: 'result',
    topic,
    key: Buffer.from(JSON.stringify({ organization_id: organizationId, pfa_id: modificationId })),
    value: {
      modificationId,
      organizationId,
      pfaId: `pfa-${modificationId}`,
      userId: 'u-emit-regression',
      outcome: 'SYNCED',
      baseVersion: 1,
      pemsVersionBefore: 1,
      pemsVersionAfter: 2,
      fieldsWritten: ['notes'],
      rebased: false,
      attempts: 1,
      error: null,
      committedAt: Date.now(),
      syncedAt: Date.now(),
      latencyMs: 5,
      detail: null,
      traceId: null,
      coalescedWith: [],
    },
    headers: {},
  };
}

/** Every record of the topic a read_committed consumer sees: its outbox id header and modification id. */
export async function readCommitted(
  kafka: Kafka,
  topic: string,
): Promise<Array<{ outboxId: string; modificationId: string }>> {
  const registry = new SchemaRegistry({ host: testEnv.schemaRegistryUrl });
  return collect(kafka, topic, {
    until: { idleMs: 5000 },
    readUncommitted: false,
    pick: async ({ message }) => ({
      outboxId: String(message.headers?.[OUTBOX_ID_HEADER] ?? ''),
      modificationId: String(((await registry.decode(message.value!)) as { modificationId: string }).modificationId),
    }),
  });
}

/** A fresh one-partition result topic and a started Emitter producing to it (the test's own seams in `extra`). */
export async function startEmitter(
  kafka: Kafka,
  db: Knex,
  topic: string,
  transactionalIdPrefix: string,
  extra: Partial<EmitterOptions> = {},
): Promise<Emitter> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const emitter = new Emitter({
    kafka,
    db,
    registryUrl: testEnv.schemaRegistryUrl,
    resultsTopic: topic,
    transactionalIdPrefix,
    ...extra,
  });
  await emitter.start();
  return emitter;
}
