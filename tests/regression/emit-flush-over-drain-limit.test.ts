/**
 * Regression (found in review): `Emitter.drain(ids)` produced at most one transaction's worth of
 * rows (5,000) and the recorder ignored the count it returned, so a flush with more outbox rows
 * than that marked its offsets durable with the rest still in the outbox, emitted only at the
 * next start. Fix (connectors/sink/emit.ts): given ids are produced in as many transactions as
 * they need. Performed with a transaction size of 3 and 8 rows, on the real stack.
 */
import type { Knex } from 'knex';
import { createDatabase } from '../../connectors/postgres/db';
import { insertOutboxRecords } from '../../connectors/postgres/outbox';
import type { Emitter } from '../../connectors/sink/emit';
import { testKafka } from '../support/kafka';
import { testEnv, uniqueId } from '../support/env';
import { readCommitted, resultRow, startEmitter } from '../support/outbox';

jest.setTimeout(120_000);

describe('regression: a flush with more outbox rows than one emit transaction takes', () => {
  const org = uniqueId('EMITMANY').replace(/-/g, '');
  const topic = `test.results.${org.toLowerCase()}`;
  const kafka = testKafka(`emit-many-${org.toLowerCase()}`);
  let db: Knex;
  let emitter: Emitter;
  const transactions: number[] = [];

  beforeAll(async () => {
    db = createDatabase({ url: testEnv.databaseUrl, poolMax: 4 });
    emitter = await startEmitter(kafka, db, topic, `test-emit-many-${org.toLowerCase()}`, {
      drainRows: 3,
      beforeCommit: async (rows) => void transactions.push(rows),
    });
  });

  afterAll(async () => {
    await emitter?.close().catch(() => undefined);
    await db?.destroy();
  });

  it('when 8 rows are drained by id with 3 per transaction, then all 8 are emitted (3 + 3 + 2) and none is left in the outbox', async () => {
    const ids = await insertOutboxRecords(
      db,
      Array.from({ length: 8 }, (_, i) => resultRow(topic, org, `m-${i}`)),
    );
    expect(await emitter.drain(ids)).toBe(8);
    expect(transactions).toEqual([3, 3, 2]);
    const left = await db('sink_outbox').whereIn('id', ids).count<{ n: string }[]>('* as n');
    expect(Number(left[0]!.n)).toBe(0);
    const seen = await readCommitted(kafka, topic);
    expect(seen.map((s) => s.outboxId).sort()).toEqual([...ids].sort());
  });
});
