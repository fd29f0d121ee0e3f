import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWorld, writesApplied, type World } from '../../support/world';
import { spawnSinkProcess, type SinkProcess } from '../../support/sink-process';

describe('sink: killed with SIGKILL mid-batch', () => {
  let world: World;
  let caFile: string;
  const children: SinkProcess[] = [];

  beforeAll(async () => {
    world = await createWorld({ records: 40, rateLimitPerSecond: 10 });
    caFile = join(mkdtempSync(join(tmpdir(), 'pems-sync-ca-')), 'sim.pem');
    writeFileSync(caFile, world.sim.cert!);
    // Slow PEMS down so a kill lands while writes are in flight.
    world.sim.control.setFaults({ latency: { kind: 'uniform', minMs: 20, maxMs: 120 } });
  });

  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
    await world.close();
  });

  it('when the sink is killed and started again, then every modification ends in exactly one outcome and no change is applied twice', async () => {
    const first = spawnSinkProcess(world.sinkEnv(caFile));
    children.push(first);

    // 40 PFAs, 3 edits each (the same field edited again: the last value must win).
    const ids: string[] = [];
    const lastNote = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (const r of world.records) {
        const note = `round ${round} of ${r.pfaId}`;
        ids.push(await world.commit({ pfaId: r.pfaId, delta: { notes: note }, baseVersion: r.version }));
        lastNote.set(r.pfaId, note);
      }
    }

    // Kill once some, but not all, have an outcome.
    const start = Date.now();
    for (;;) {
      const { count } = (await world
        .db('pfa_modification')
        .whereIn('id', ids)
        .where('sync_status', 'synced')
        .count('* as count')
        .first()) as { count: string };
      if (Number(count) > 0 && Number(count) < ids.length) break;
      if (Number(count) === ids.length) throw new Error('everything finished before the kill; slow the simulator down');
      if (Date.now() - start > 120000) throw new Error('nothing synced before the kill');
      await new Promise((r) => setTimeout(r, 20));
    }
    await first.kill();

    const second = spawnSinkProcess(world.sinkEnv(caFile));
    children.push(second);
    const rows = await world.waitForOutcome(ids, 120000);
    await second.stop();

    expect(rows.filter((r) => r.sync_status !== 'synced')).toEqual([]);
    for (const r of world.records) {
      const pems = world.sim.control.getRecord(r.pfaId)!;
      expect(pems.notes).toBe(lastNote.get(r.pfaId));
      // Three edits of a PFA may fold into fewer writes, never into more.
      expect(writesApplied(world, r.pfaId)).toBeLessThanOrEqual(3);
      const mirror = await world.db('pfa_mirror').where({ organization_id: world.org, pfa_id: r.pfaId }).first();
      expect(mirror.version).toBe(pems.version);
    }
    // One recorded outcome per modification: exactly one terminal write entry in the audit log.
    const finals = await world
      .db('audit_log')
      .whereIn('modification_id', ids)
      .whereRaw("details->>'outcome' is not null")
      .select('modification_id');
    expect(finals).toHaveLength(ids.length);
    expect(new Set(finals.map((f) => f.modification_id)).size).toBe(ids.length);
    // The rate limit held across both processes.
    expect(world.sim.control.stats().maxRequestsPerSecond[world.org]).toBeLessThanOrEqual(10);
  }, 180_000);
});
