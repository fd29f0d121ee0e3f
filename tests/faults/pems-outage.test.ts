import { createFaultWorld, expectPromisesKept, judge, pick, runWorkload, sleep, type FaultWorld } from './harness';

/**
 * PEMS unreachable for longer than the retry window (default delays 5 s + 10 s + 20 s = 35 s;
 * the full outage is 60 s). The sink must notice the outage (outageThreshold consecutive
 * transient failures), pause and probe /health instead of spending attempts, so no modification
 * fails or reaches the dead-letter topic.
 */
describe('faults: PEMS down', () => {
  let fw: FaultWorld;

  beforeAll(async () => {
    fw = await createFaultWorld({ records: 30, users: 5 });
    await fw.startReadSide();
  });

  afterAll(async () => {
    await fw.close();
  });

  it('when PEMS answers 503 to everything for longer than the retry window, then nothing fails or is dead-lettered and everything syncs afterwards', async () => {
    const outageMs = pick(60_000, 15_000);
    // Default retry settings (5 s, 10 s, 20 s; probe every 5 s): only the connection settings are the test's.
    fw.spawnSink();
    const before = runWorkload(fw, { durationMs: pick(10_000, 5_000), intervalMs: 150 });
    await before;
    fw.world.sim.control.setFaults({ outage: { durationMs: outageMs, mode: 'error', status: 503 } });
    const during = await runWorkload(fw, { durationMs: outageMs - 1000, intervalMs: 200 });
    await sleep(1500);
    fw.world.sim.control.clearFaults();
    const after = await runWorkload(fw, { durationMs: pick(10_000, 5_000), intervalMs: 150 });
    const v = await judge(fw, 'pems-outage', {
      workload: after,
      extra: { outageMs, editsDuringOutage: during.vanguardEdits },
    });
    expectPromisesKept(v);
    expect(v.byStatus.failed ?? 0).toBe(0);
    const dlq = await fw.world.db('dead_letter').where({ organization_id: fw.world.org }).count('* as n').first();
    expect(Number(dlq?.n)).toBe(0);
  });

  it('when PEMS drops every connection for a while, then nothing fails either', async () => {
    const outageMs = pick(30_000, 10_000);
    fw.world.sim.control.setFaults({ outage: { durationMs: outageMs, mode: 'reset' } });
    await runWorkload(fw, { durationMs: outageMs - 1000, intervalMs: 200 });
    await sleep(1500);
    fw.world.sim.control.clearFaults();
    const v = await judge(fw, 'pems-outage-reset', { extra: { outageMs } });
    expectPromisesKept(v);
    expect(v.byStatus.failed ?? 0).toBe(0);
  });
});
