import { createWorld, writesApplied, type World } from '../../support/world';

describe('sink: several instances in one consumer group', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ records: 30, rateLimitPerSecond: 10 });
  });

  afterAll(async () => {
    await world.close();
  });

  it('when two instances share the group, then they split the partitions, every edit syncs once and the shared limit holds', async () => {
    const a = await world.startSink();
    const b = await world.startSink();
    // After the second join both hold partitions, and no partition is held twice.
    const start = Date.now();
    // Settled: both hold partitions and together exactly the topic's six (none twice).
    while (
      a.task.assignment().length === 0 ||
      b.task.assignment().length === 0 ||
      a.task.assignment().length + b.task.assignment().length !== 6
    ) {
      if (Date.now() - start > 30000)
        throw new Error(`assignment did not settle: ${a.task.assignment()} / ${b.task.assignment()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(a.task.assignment().filter((tp) => b.task.assignment().includes(tp))).toEqual([]);

    const ids: string[] = [];
    for (const r of world.records) {
      ids.push(await world.commit({ pfaId: r.pfaId, delta: { notes: `shared ${r.pfaId}` }, baseVersion: r.version }));
      ids.push(
        await world.commit({ pfaId: r.pfaId, delta: { equipment: `EQ-${r.pfaId.slice(-3)}` }, baseVersion: r.version }),
      );
    }
    const rows = await world.waitForOutcome(ids, 60000);
    expect(rows.filter((r) => r.sync_status !== 'synced')).toEqual([]);
    for (const r of world.records) {
      const pems = world.sim.control.getRecord(r.pfaId)!;
      expect(pems.notes).toBe(`shared ${r.pfaId}`);
      expect(pems.equipment).toBe(`EQ-${r.pfaId.slice(-3)}`);
      expect(writesApplied(world, r.pfaId)).toBeLessThanOrEqual(2);
    }
    const stats = world.sim.control.stats();
    expect(stats.maxRequestsPerSecond[world.org]).toBeLessThanOrEqual(10);
    expect(stats.requests['POST /pfa/batch']?.['429'] ?? 0).toBe(0);
  });
});
