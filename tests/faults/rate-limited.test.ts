import { createFaultWorld, expectPromisesKept, judge, pick, runWorkload, sleep, type FaultWorld } from './harness';

/** 429 is "wait", never "fail": no attempt is spent while PEMS answers RATE_LIMITED. */
describe('faults: PEMS answering 429 to everything', () => {
  let fw: FaultWorld;

  beforeAll(async () => {
    fw = await createFaultWorld({ records: 30, users: 5 });
    await fw.startReadSide();
  });

  afterAll(async () => {
    await fw.close();
  });

  it('when every request is rate-limited for a while, then modifications wait, none fails, and the limit holds', async () => {
    const windowMs = pick(30_000, 8_000);
    fw.spawnSink();
    await runWorkload(fw, { durationMs: pick(8_000, 4_000), intervalMs: 150 });
    fw.world.sim.control.setFaults({ errorRates: { 429: 1 } });
    await runWorkload(fw, { durationMs: windowMs - 500, intervalMs: 200 });
    await sleep(500);
    fw.world.sim.control.clearFaults();
    const after = await runWorkload(fw, { durationMs: pick(8_000, 4_000), intervalMs: 150 });
    const stats = fw.world.sim.control.stats() as { requests: Record<string, Record<string, number>> };
    const limited = Object.values(stats.requests).reduce((n, byStatus) => n + (byStatus['429'] ?? 0), 0);
    const v = await judge(fw, 'rate-limited', { workload: after, extra: { windowMs, answered429: limited } });
    expectPromisesKept(v);
    expect(v.byStatus.failed ?? 0).toBe(0);
    expect(limited).toBeGreaterThan(0);
  });
});
