/**
 * Regression (issue 15): a modification that ran out of retries carried PEMS_SYNC_PEMS_TRANSIENT
 * in pfa_modification.sync_error, the dead_letter table and the result record, but
 * PEMS_SYNC_RETRIES_EXHAUSTED in the dead-letter topic's header. One failure, one code.
 */
import { DLQ_HEADERS } from '../../streams/outcomes';
import { createWorld, type World } from '../support/world';

describe('regression: one code per failure in the table, the header, the result record', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ records: 2 });
    await world.startSink();
  });
  afterAll(async () => {
    await world.close();
  });

  it('when retries run out, then sync_error, dead_letter, the DLQ header and the result record all say PEMS_SYNC_RETRIES_EXHAUSTED', async () => {
    const rec = world.records[0]!;
    world.sim.control.setFaults({ errorRates: { 503: 1 }, endpoints: ['POST /pfa/batch'] });
    const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'never lands' } });
    const [row] = await world.waitForOutcome([id]);
    world.sim.control.clearFaults();
    expect(row!.sync_status).toBe('failed');

    const code = 'PEMS_SYNC_RETRIES_EXHAUSTED';
    expect(row!.sync_error.code).toBe(code);
    const [dl] = await world.db('dead_letter').where({ modification_id: id });
    expect(dl.error_code).toBe(code);
    const [record] = await world.readTopic(world.topics.deadLetters, 1);
    expect(Buffer.from(record!.headers[DLQ_HEADERS.code] as Buffer).toString()).toBe(code);
    const results = await world.decodeResults(1);
    expect(results[0]).toMatchObject({ modificationId: id, outcome: 'FAILED', error: { code } });
    // The PEMS answer that caused it is still told: in the message.
    expect(row!.sync_error.message).toMatch(/503|unavailable|attempts/i);
  });
});
