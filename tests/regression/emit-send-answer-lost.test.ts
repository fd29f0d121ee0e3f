/**
 * Found while fixing the read side's lost-answer defect (tests/regression/poll-produce-answer-lost):
 * the emitter has the same exposure. Its transaction's send can fail after the broker stored the
 * batch (every answer lost until kafkajs gave up); the transaction is then aborted, which works,
 * and the outbox rows stay. kafkajs gives the batch's sequence numbers back, so the next drain of
 * the same rows sends a batch the broker takes for a duplicate of the aborted one: it answers
 * success and writes nothing, the commit succeeds, the outbox rows are deleted, and the result
 * never reaches a read_committed consumer. (With another row count the broker refuses every
 * later batch as out of order, and the sink stops.) The emitter now replaces its producer after
 * any failed transaction: the new one's InitProducerId bumps the epoch and starts the sequences
 * afresh.
 *
 * Performed on the real stack: every answer to the transaction's produce request is lost until
 * kafkajs gives up, then the same row is drained again.
 */
import type { Knex } from 'knex';
import { Kafka, logLevel } from 'kafkajs';
import { createDatabase } from '../../connectors/postgres/db';
import { insertOutboxRecords } from '../../connectors/postgres/outbox';
import type { Emitter } from '../../connectors/sink/emit';
import { testKafka } from '../support/kafka';
import { testEnv, uniqueId } from '../support/env';
import { lostAnswers } from '../support/lost-answers';
import { readCommitted, resultRow, startEmitter } from '../support/outbox';

jest.setTimeout(120_000);

describe('regression: an emit transaction whose produce answers were lost', () => {
  const org = uniqueId('EMITLOST').replace(/-/g, '');
  const topic = `test.results.${org.toLowerCase()}`;
  let db: Knex;
  let emitter: Emitter;

  beforeAll(async () => {
    db = createDatabase({ url: testEnv.databaseUrl, poolMax: 4 });
  });

  afterAll(async () => {
    await emitter?.close().catch(() => undefined);
    await db?.destroy();
  });

  it('when the send failed after the broker stored it and the transaction was aborted, then draining the row again puts it on the topic once', async () => {
    const net = await lostAnswers();
    const retries = 2;
    const kafka = new Kafka({
      clientId: `emit-lost-${org.toLowerCase()}`,
      brokers: testEnv.kafkaBrokers,
      logLevel: logLevel.NOTHING,
      socketFactory: net.socketFactory,
      retry: { retries, initialRetryTime: 100, maxRetryTime: 400 },
    });
    emitter = await startEmitter(kafka, db, topic, `test-emit-lost-${org.toLowerCase()}`);
    const [id] = await insertOutboxRecords(db, [resultRow(topic, org, 'm-lost')]);

    // The first send and each of kafkajs's retries of it: stored by the broker, answer lost.
    for (let i = 0; i <= retries; i++) net.loseNextProduceAnswer();
    await expect(emitter.drain([id!])).rejects.toThrow();
    expect(net.lost).toBe(retries + 1);
    const kept = await db('sink_outbox').where({ id }).count<{ n: string }[]>('* as n');
    expect(Number(kept[0]!.n)).toBe(1);

    expect(await emitter.drain([id!])).toBe(1);
    const left = await db('sink_outbox').where({ id }).count<{ n: string }[]>('* as n');
    expect(Number(left[0]!.n)).toBe(0);
    const seen = await readCommitted(testKafka(`emit-lost-reader-${org.toLowerCase()}`), topic);
    expect(seen.map((s) => s.outboxId)).toEqual([id]);
  });
});
