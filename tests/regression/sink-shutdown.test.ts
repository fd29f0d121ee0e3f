import { createWorld, type World } from '../support/world';

/**
 * Shutdown must never hang (a hung close is the usual failure: BullMQ worker.close,
 * platformatic/kafka test/regression/integrity/shutdown.test.ts), must be idempotent, and
 * must leave nothing committed that is not durable.
 */
const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms).unref(),
    ),
  ]);

describe('sink shutdown', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ records: 4, rateLimitPerSecond: 10 });
  });

  afterAll(async () => {
    await world.close();
  });

  it('when close is called while PEMS hangs on a write, then it returns within the shutdown timeout, twice, and the edit is left for redelivery', async () => {
    const sink = await world.startSink({ sink: { shutdownTimeoutMs: 2000 }, pems: { timeoutMs: 60000 } });
    world.sim.control.setFaults({ hang: { count: 1 }, endpoints: ['POST /pfa/batch'] });
    const id = await world.commit({ pfaId: world.records[0]!.pfaId, delta: { notes: 'stuck' } });
    const start = Date.now();
    while ((await world.db('pfa_modification').where({ id }).first('sync_status')).sync_status !== 'syncing') {
      if (Date.now() - start > 20000) throw new Error('the sink never claimed the modification');
      await new Promise((r) => setTimeout(r, 50));
    }
    const first = sink.close();
    const second = sink.close();
    expect(second).toBe(first);
    await within(first, 15000, 'close');
    world.sim.control.clearFaults();
    // Abandoned, not lost: still claimable, so the next owner of the partition redoes it.
    const row = await world.db('pfa_modification').where({ id }).first();
    expect(['syncing', 'synced']).toContain(row.sync_status);

    const next = await world.startSink();
    const [done] = await world.waitForOutcome([id], 30000);
    expect(done!.sync_status).toBe('synced');
    await within(next.close(), 15000, 'close');
  });
});
