import {
  createFaultWorld,
  exited,
  expectPromisesKept,
  judge,
  pick,
  runWorkload,
  sleep,
  type FaultWorld,
} from './harness';

/**
 * Two sink processes in one consumer group; a third joins (the group rebalances) and one of the
 * running ones is SIGKILLed while that rebalance is under way. Partitions move twice; the claim
 * guard, offsets-after-durability and idempotency keys must keep every outcome single.
 */
describe('faults: two sink instances, one killed during a rebalance', () => {
  let fw: FaultWorld;

  beforeAll(async () => {
    fw = await createFaultWorld({ records: 30, users: 5 });
    await fw.startReadSide();
    fw.world.sim.control.setFaults({ latency: { kind: 'uniform', minMs: 20, maxMs: 120 } });
  });

  afterAll(async () => {
    await fw.close();
  });

  it('when an instance dies while the group rebalances, then the survivors finish its work without loss or double writes', async () => {
    const env = { PEMS_SYNC_RETRY_DELAYS_MS: '200,500,1000' };
    const rounds = pick(3, 1);
    const a = fw.spawnSink(env);
    let b = fw.spawnSink(env);
    const workload = runWorkload(fw, { durationMs: pick(80_000, 30_000), intervalMs: 120 });
    await sleep(8000);
    for (let i = 0; i < rounds; i++) {
      // A new member joins: every member is asked to rejoin. Kill one of the old ones mid-join.
      const c = fw.spawnSink(env);
      await sleep(1500 + Math.random() * 2500);
      b.kill('SIGKILL');
      await exited(b);
      b = c;
      await sleep(pick(15_000, 6_000));
    }
    const stats = await workload;
    const v = await judge(fw, 'rebalance', {
      workload: stats,
      extra: { rounds, alive: fw.sinks.filter((s) => s.exitCode === null && s.signalCode === null).length },
    });
    expect(a.exitCode).toBeNull();
    expectPromisesKept(v);
  });
});
