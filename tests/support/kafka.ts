import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { testEnv, uniqueId } from './env';

export function testKafka(clientId = 'pems-sync-test'): Kafka {
  return new Kafka({ clientId, brokers: testEnv.kafkaBrokers, logLevel: logLevel.NOTHING });
}

export interface CollectedMessage {
  topic: string;
  partition: number;
  message: KafkaMessage;
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
): Promise<{ messages: CollectedMessage[]; consumer: Consumer }> {
  const consumer = kafka.consumer({ groupId: uniqueId('test-group').toLowerCase(), maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const messages: CollectedMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`saw ${messages.length}/${count} matching messages on ${topic} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    void consumer.run({
      eachMessage: async ({ topic: t, partition, message }) => {
        const m = { topic: t, partition, message };
        if (match(m)) messages.push(m);
        if (messages.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return { messages, consumer };
}
