/**
 * An idempotent producer that is replaced after a send that failed.
 *
 * Why: a send can fail after the broker stored its batch (the answer was lost, as in a broker
 * restart). kafkajs then gives the sequence numbers of that batch back (sendMessages rolls them
 * back on any error) and hands them to the next batch of the partition. The broker answers that
 * next batch as a duplicate of the stored one, with success and without writing it (other
 * records, lost), or refuses it and every later one as out of order (kafkajs issue #598). Kafka's
 * Java producer bumps its epoch in that state; kafkajs does not, so the producer is given up and
 * a new one (a new producer id, sequences from 0) sends the next batch. The caller sends its batch
 * again, so only duplicates can follow, which every reader here ignores.
 */
import type { Kafka, Producer, ProducerRecord, RecordMetadata } from 'kafkajs';
import { javaCompatiblePartitioner } from './partitioner';

export class IdempotentProducer {
  private producer: Producer;
  private connected?: Promise<void>;

  constructor(private readonly kafka: Kafka) {
    this.producer = this.create();
  }

  /** Connects if needed; the first connect of a new producer runs here too. */
  connect(): Promise<void> {
    this.connected ??= this.producer.connect();
    return this.connected;
  }

  /** Sends with acks from every in-sync replica; after a failure the next send uses a new producer. */
  async send(record: Omit<ProducerRecord, 'acks'>): Promise<RecordMetadata[]> {
    try {
      await this.connect();
      return await this.producer.send({ ...record, acks: -1 });
    } catch (e) {
      await this.replace();
      throw e;
    }
  }

  async disconnect(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
    this.connected = undefined;
  }

  /** Broker-side dedup of retried sends, and one request in flight so retries keep order. */
  private create(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2 like Kafka's Java client (and Kafka Connect/Debezium): same key, same partition as the CDC topic.
      createPartitioner: javaCompatiblePartitioner,
    });
  }

  private async replace(): Promise<void> {
    const failed = this.producer;
    const wasConnected = this.connected;
    this.producer = this.create();
    this.connected = undefined;
    if (wasConnected) await failed.disconnect().catch(() => undefined);
  }
}
