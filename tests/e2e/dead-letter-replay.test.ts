/**
 * A dead letter replayed after its cause is fixed (issue 5, "Dead letters"): PEMS answers 500
 * to every batch write until the sink gives up (retry delays 50, 100, 200 ms from the sink
 * harness), the modification fails with a dead letter on the topic and in the table; the fault
 * is cleared and an operator replays it through the control API. The same modification (same
 * id, so the same PEMS idempotency key) is committed again, flows through Debezium and the
 * sink, and lands in PEMS once.
 */
import { DLQ_HEADERS } from '../../streams/outcomes';
import { testEnv } from '../support/env';
import { writesApplied } from '../support/world';
import { createE2eWorld, type E2eWorld } from './harness';

const header = (h: Record<string, unknown>, name: string): string | undefined => {
  const v = h[name];
  return v === undefined ? undefined : Buffer.from(v as Buffer).toString('utf8');
};

describe('e2e: dead letter replayed through the control API after PEMS recovers', () => {
  let world: E2eWorld;

  beforeEach(async () => {
    world = await createE2eWorld({ records: 2 });
    await world.startSink();
  });
  afterEach(async () => {
    world?.sim.control.clearFaults();
    await world?.close();
  });

  it('when PEMS failed every retry and the fault is fixed, then replaying the dead letter syncs the same modification once and it is audited', async () => {
    const rec = world.records[0]!;
    const delta = { notes: 'written after the outage', equipment: 'CR-DL-3' };
    world.sim.control.setFaults({ errorRates: { 500: 1 }, endpoints: ['POST /pfa/batch'] });
    const id = await world.commit({ pfaId: rec.pfaId, delta });
    const [failed] = await world.waitForOutcome([id]);
    expect(failed).toMatchObject({ sync_status: 'failed', attempts: 4 }); // the first try and three retries
    expect(writesApplied(world, rec.pfaId)).toBe(0);
    expect(world.sim.control.stats().requests['POST /pfa/batch']?.['500']).toBe(4);

    const [dlRecord] = await world.deadLetterRecords(1);
    expect(JSON.parse(dlRecord!.value!.toString()).after.id).toBe(id);
    expect(header(dlRecord!.headers, DLQ_HEADERS.topic)).toBe(testEnv.cdcTopic);
    expect(header(dlRecord!.headers, DLQ_HEADERS.exceptionMessage)).toMatch(/gave up after 4 attempts/);

    // The operator finds it through the API, with the modification's state.
    const list = await world.request(world.reader, 'GET', `/dead-letters?organization=${world.org}&status=open`);
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toHaveLength(1);
    const dl = list.json().items[0];
    expect(dl).toMatchObject({
      modificationId: id,
      pfaId: rec.pfaId,
      status: 'open',
      modification: { syncStatus: 'failed', attempts: 4, userId: world.user },
    });
    expect(dl.reason).toMatch(/gave up after 4 attempts/);

    // A replay while PEMS still fails would only fail again: fix the cause first.
    world.sim.control.clearFaults();
    expect((await world.request(world.reader, 'POST', `/dead-letters/${dl.id}/replay`, {})).statusCode).toBe(403);
    const replay = await world.request(world.user, 'POST', `/dead-letters/${dl.id}/replay`, { reason: 'PEMS is back' });
    expect(replay.statusCode).toBe(200);
    expect(replay.json()).toMatchObject({ id: dl.id, via: 'modification', modificationId: id });

    const [row] = await world.waitForOutcome([id]);
    // Same row, same id: 4 failed tries before the replay and 1 after.
    expect(row).toMatchObject({
      id,
      sync_status: 'synced',
      attempts: 5,
      sync_error: null,
      pems_version_after: rec.version + 1,
    });
    expect(world.sim.control.getRecord(rec.pfaId)).toMatchObject({ ...delta, version: rec.version + 1 });
    expect(writesApplied(world, rec.pfaId)).toBe(1);
    expect(
      await world
        .db('pfa_modification')
        .where({ organization_id: world.org, pfa_id: rec.pfaId })
        .count<{ n: string }[]>({ n: '*' }),
    ).toEqual([{ n: '1' }]);

    expect(await world.db('dead_letter').where({ id: dl.id }).first()).toMatchObject({
      status: 'replayed',
      resolved_by: world.user,
      resolution_reason: 'PEMS is back',
    });
    // A second replay of the same dead letter is refused: it is no longer open.
    const twice = await world.request(world.user, 'POST', `/dead-letters/${dl.id}/replay`, {});
    expect(twice.statusCode).toBe(409);

    const audit = await world.auditOf(id);
    expect(audit.map((a) => `${a.event_type}:${a.details.result ?? ''}`)).toEqual([
      'sync.write:transient',
      'sync.write:transient',
      'sync.write:transient',
      'sync.write:transient',
      'deadletter.replayed:',
      'sync.write:updated',
    ]);
    expect(audit[4]).toMatchObject({
      actor: world.user,
      details: expect.objectContaining({
        deadLetterId: dl.id,
        via: 'modification',
        previous: expect.objectContaining({ syncStatus: 'failed', attempts: 4 }),
      }),
    });

    const results = await world.results(2);
    expect(results.map((r) => [r.modificationId, r.outcome])).toEqual([
      [id, 'FAILED'],
      [id, 'SYNCED'],
    ]);

    const status = await world.request(world.reader, 'GET', `/status?organization=${world.org}`);
    expect(status.json().counts).toMatchObject({ synced: 1, failed: 0, deadLettersOpen: 0 });
  });
});
