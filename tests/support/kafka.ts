/**
 * The tests' Kafka: one client factory and one collector. Every helper that reads a topic
 * (the test world's readTopic, the read side's, the e2e and fault suites', collectMessages)
 * reads through `collect`, in a fresh consumer group from the beginning, until one of:
 * `count` kept messages, the topic's end as it was when reading started, or `idleMs` without a
 * new message.
 */
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { retryUnlessStopping } from '../../connectors/kafka/consumer-retry';
import { testEnv, uniqueId } from './env';

export function testKafka(clientId = 'pems-sync-test'): Kafka {
  return new Kafka({ clientId, brokers: testEnv.kafkaBrokers, logLevel: logLevel.NOTHING });
}

export interface CollectedMessage {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

export type CollectUntil =
  /** this many kept messages (rejects after timeoutMs with what it saw) */
  | { count: number }
  /** every message below these end offsets (partition → high watermark); other partitions are ignored */
  | { ends: ReadonlyMap<number, number> }
  /** nothing new for this long (read_committed readers of the result topic) */
  | { idleMs: number };

export interface CollectOptions<T> {
  until: CollectUntil;
  /** What to keep of a message; undefined skips it. Default: the message as CollectedMessage. */
  pick?: (m: CollectedMessage) => T | undefined | Promise<T | undefined>;
  /** Default 30000. Not used with idleMs. */
  timeoutMs?: number;
  groupId?: string;
  maxWaitTimeInMs?: number;
  /** false: only committed transactions (the sink's transactional emit). Default kafkajs's (true). */
  readUncommitted?: boolean;
  /** The timeout's message, given how many were kept. */
  timeoutMessage?: (kept: number) => string;
  /** Called after the consumer disconnected (the read side deletes its group). */
  afterDisconnect?: (groupId: string) => Promise<unknown>;
}

/** Reads `topic` from the beginning in a fresh consumer group; see CollectUntil for when it stops. */
export async function collect<T = CollectedMessage>(
  kafka: Kafka,
  topic: string,
  opts: CollectOptions<T>,
): Promise<T[]> {
  const until = opts.until;
  const remaining = 'ends' in until ? new Map(until.ends) : undefined;
  const out: T[] = [];
  if (remaining && remaining.size === 0) return out;
  const groupId = opts.groupId ?? uniqueId('test-read').toLowerCase();
  let done = false;
  const consumer: Consumer = kafka.consumer({
    groupId,
    retry: retryUnlessStopping(() => done),
    maxWaitTimeInMs: opts.maxWaitTimeInMs ?? 100,
    ...(opts.readUncommitted === undefined ? {} : { readUncommitted: opts.readUncommitted }),
  });
  const pick = opts.pick ?? ((m: CollectedMessage) => m as unknown as T);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const timeoutMessage = opts.timeoutMessage ?? ((n: number) => `read ${n} messages of ${topic} in ${timeoutMs} ms`);
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    if ('idleMs' in until) {
      let last = Date.now();
      void consumer.run({
        eachMessage: async ({ topic: t, partition, message }) => {
          last = Date.now();
          const v = await pick({ topic: t, partition, message });
          if (v !== undefined) out.push(v);
        },
      });
      while (Date.now() - last < until.idleMs) await new Promise((r) => setTimeout(r, 200));
      return out;
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(timeoutMessage(out.length))), timeoutMs);
      void consumer.run({
        eachMessage: async ({ topic: t, partition, message }) => {
          if (remaining) {
            const end = remaining.get(partition);
            if (end === undefined) return;
            const v = await pick({ topic: t, partition, message });
            if (v !== undefined) out.push(v);
            if (Number(message.offset) + 1 >= end) remaining.delete(partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
            return;
          }
          const { count } = until as { count: number };
          const v = await pick({ topic: t, partition, message });
          if (v !== undefined && out.length < count) out.push(v);
          if (out.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    return out;
  } finally {
    done = true;
    await consumer.disconnect();
    await opts.afterDisconnect?.(groupId);
  }
}

/**
 * Consumes `topic` from the beginning in a fresh consumer group and resolves with the first
 * `count` messages that `match`, or rejects after `timeoutMs` with what it saw.
 */
export async function collectMessages(
  kafka: Kafka,
  topic: string,
  match: (m: CollectedMessage) => boolean,
  count: number,
  timeoutMs = 45000,
): Promise<{ messages: CollectedMessage[] }> {
  const messages = await collect(kafka, topic, {
    until: { count },
    pick: (m) => (match(m) ? m : undefined),
    timeoutMs,
    groupId: uniqueId('test-group').toLowerCase(),
    maxWaitTimeInMs: 200,
    timeoutMessage: (n) => `saw ${n}/${count} matching messages on ${topic} in ${timeoutMs} ms`,
  });
  return { messages };
}
