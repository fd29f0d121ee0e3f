/**
 * Signed checkpoints of every organization's audit chain head on a compacted Kafka topic
 * (audit.checkpointTopic, key = organization): the anchor outside Postgres that
 * /audit/verify compares the chain against (issue 13, item 2). A checkpoint is published only
 * for a head whose own mac holds, so a forged head is never anchored.
 */
import type { Kafka, Message } from 'kafkajs';
import type { Knex } from 'knex';
import { retryUnlessStopping } from '../kafka/consumer-retry';
import {
  checkedCheckpoint,
  headMac,
  macEquals,
  signCheckpoint,
  type AuditCheckpoint,
  type AuditKeyRing,
} from '../../streams/audit-mac';
import { signedChainHeads } from '../postgres/audit';

export async function publishCheckpoints(
  db: Knex,
  /** An IdempotentProducer (../kafka/idempotent-producer.ts); it sends with acks from every in-sync replica. */
  producer: { send(record: { topic: string; messages: Message[] }): Promise<unknown> },
  topic: string,
  ring: AuditKeyRing,
  organizationIds?: readonly string[],
): Promise<number> {
  const heads = await signedChainHeads(db, organizationIds);
  const at = new Date().toISOString();
  const messages = heads
    .filter((h) => {
      const key = ring.keys.get(h.macKeyId);
      return key !== undefined && macEquals(h.headMac, headMac(key, h.macKeyId, h.organizationId, h.lastId, h.lastMac));
    })
    .map((h) => ({
      key: h.organizationId,
      value: JSON.stringify(
        signCheckpoint(ring, { organizationId: h.organizationId, lastId: h.lastId, lastMac: h.lastMac, at }),
      ),
    }));
  if (messages.length > 0) await producer.send({ topic, messages });
  return messages.length;
}

/**
 * The newest validly signed checkpoint of `organizationId`: reads the compacted topic from the
 * start up to its current end (a fresh consumer group each time; the topic holds one record
 * per organization after compaction). Undefined when there is none.
 */
export async function latestCheckpoint(
  kafka: Kafka,
  topic: string,
  ring: AuditKeyRing,
  organizationId: string,
  timeoutMs = 15_000,
): Promise<AuditCheckpoint | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Array<{ partition: number; offset: string }>;
  try {
    ends = (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.offset }));
  } finally {
    await admin.disconnect();
  }
  const pending = new Set(ends.filter((e) => e.offset !== '0').map((e) => e.partition));
  if (pending.size === 0) return undefined;
  let done = false;
  const consumer = kafka.consumer({
    retry: retryUnlessStopping(() => done),
    groupId: `pems-sync-audit-verify-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    maxWaitTimeInMs: 200,
  });
  let found: AuditCheckpoint | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`audit checkpoints not read within ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (message.key?.toString() === organizationId && message.value) {
            let parsed: unknown;
            try {
              parsed = JSON.parse(message.value.toString());
            } catch {
              parsed = undefined;
            }
            const c = checkedCheckpoint(ring, parsed);
            if (c && c.organizationId === organizationId && (!found || BigInt(c.lastId) >= BigInt(found.lastId)))
              found = c;
          }
          const end = ends.find((e) => e.partition === partition)!;
          if (BigInt(message.offset) + 1n >= BigInt(end.offset)) pending.delete(partition);
          if (pending.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    done = true;
    await consumer.disconnect();
  }
  return found;
}
