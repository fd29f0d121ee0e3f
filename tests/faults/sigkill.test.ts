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

describe('faults: the sink killed with SIGKILL at random moments', () => {
  let fw: FaultWorld;

  beforeAll(async () => {
    fw = await createFaultWorld({ records: 30, users: 5 });
    await fw.startReadSide();
    // Latency keeps writes in flight, so a kill lands mid-batch rather than between batches.
    fw.world.sim.control.setFaults({ latency: { kind: 'uniform', minMs: 20, maxMs: 150 } });
  });

  afterAll(async () => {
    await fw.close();
  });

  it('when the sink is killed several times while users and PEMS users edit, then nothing is lost, nothing is written twice and reconcile finds no drift', async () => {
    const kills = pick(6, 3);
    const durationMs = pick(90_000, 30_000);
    let sink = fw.spawnSink({ PEMS_SYNC_RETRY_DELAYS_MS: '200,500,1000' });
    const workload = runWorkload(fw, { durationMs, intervalMs: 120 });
    const killedAt: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < kills; i++) {
      // A random moment within this kill's share of the workload (after the process had time to join).
      await sleep(4000 + Math.random() * (durationMs / kills - 4000));
      sink.kill('SIGKILL');
      await exited(sink);
      killedAt.push(Date.now() - t0);
      sink = fw.spawnSink({ PEMS_SYNC_RETRY_DELAYS_MS: '200,500,1000' });
    }
    const stats = await workload;
    const v = await judge(fw, 'sigkill', { workload: stats, extra: { kills, killedAtMs: killedAt } });
    expectPromisesKept(v);
    expect(v.byStatus.synced ?? 0).toBeGreaterThan(0);
  });
});
