import { createFaultWorld, expectPromisesKept, judge, pick, runWorkload, type FaultWorld } from './harness';

/**
 * Flaky PEMS: 10% of requests fail with 5xx; then hung requests (cut by a short
 * PEMS_SYNC_PEMS_TIMEOUT_MS) and connection resets. A write that timed out may still have been
 * applied: the idempotency key makes the retry a replay, never a second write.
 */
describe('faults: transient PEMS failures', () => {
  let fw: FaultWorld;

  beforeAll(async () => {
    fw = await createFaultWorld({ records: 30, users: 5 });
    await fw.startReadSide();
    fw.spawnSink({ PEMS_SYNC_PEMS_TIMEOUT_MS: '1500', PEMS_SYNC_RETRY_DELAYS_MS: '500,1000,2000,4000' });
  });

  afterAll(async () => {
    await fw.close();
  });

  it('when 10% of PEMS requests fail with 5xx, then every modification still ends synced or in an honest outcome, once', async () => {
    fw.world.sim.control.setFaults({ errorRates: { 500: 0.03, 502: 0.02, 503: 0.03, 504: 0.02 } });
    const stats = await runWorkload(fw, { durationMs: pick(60_000, 20_000), intervalMs: 120 });
    fw.world.sim.control.clearFaults();
    const v = await judge(fw, 'errors-5xx', { workload: stats });
    expectPromisesKept(v);
  });

  it('when requests hang past the timeout and connections are reset, then retries replay instead of writing twice', async () => {
    fw.world.sim.control.setFaults({ hang: { rate: 0.05 }, reset: { rate: 0.05 } });
    const stats = await runWorkload(fw, { durationMs: pick(60_000, 20_000), intervalMs: 120 });
    fw.world.sim.control.clearFaults();
    const sim = fw.world.sim.control.stats() as { requests: Record<string, Record<string, number>> };
    const hung = Object.values(sim.requests).reduce((n, s) => n + (s.hung ?? 0), 0);
    const reset = Object.values(sim.requests).reduce((n, s) => n + (s.reset ?? 0), 0);
    const v = await judge(fw, 'hangs-resets', { workload: stats, extra: { hung, reset } });
    expectPromisesKept(v);
    expect(hung + reset).toBeGreaterThan(0);
  });
});
