/**
 * Regression (found by the kill-windows fault scenario after the first fixes of issue 11:
 * unrecorded_write findings): work taken over from a dead instance is taken out of the waiting
 * list and then claimed and queued, which takes a few queries. An edit of the same PFA fetched
 * in that moment saw nothing waiting before it, went straight to the lane and was written
 * first, alone; the edits taken over came after it. When that instance was killed too, the
 * next one found the edit's write-ahead intent behind the others and sent the edit again:
 * PEMS applied it twice, and the version of its first write was recorded by nobody.
 *
 * Fix (connectors/sink/ledger.ts, takeover/sort): items whose takeover is under way count as waiting for the
 * edits behind them.
 *
 * The window is placed exactly: the taken-over edit's row is locked by the test, so the
 * takeover's claim waits on it while a later edit of the PFA arrives.
 */
import type { Knex } from 'knex';
import { createWorld, type World } from '../support/world';
import { cdcEnd, waitForCdcEvents } from '../support/cdc';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('regression: an edit fetched while earlier edits are being taken over waits behind them', () => {
  let world: World;
  let other: string;

  beforeAll(async () => {
    world = await createWorld({ records: 1 });
    other = `other-${world.org}`;
  });

  afterAll(async () => {
    await world.db('sink_instance').where({ id: other }).delete();
    await world.close();
  });

  it('when a later edit arrives while the takeover of the earlier one is under way, then it is written after it and PEMS keeps the later value', async () => {
    const rec = world.records[0]!;
    const cdcFrom = await cdcEnd();
    const e1 = await world.commit({ pfaId: rec.pfaId, delta: { equipment: 'EQ-OLD' } });
    await world.db('sink_instance').insert({ id: other, host: 'elsewhere', pid: 1 });
    await world.db('pfa_modification').where({ id: e1 }).update({ sync_status: 'syncing', claimed_by: other });
    await waitForCdcEvents(cdcFrom, 1); // the commit (the claim's delete is skipped by Debezium)
    // The other instance is alive (heartbeat) until the test lets it fall silent.
    let beating = true;
    const heartbeat = (async () => {
      while (beating) {
        await world.db('sink_instance').where({ id: other }).update({ heartbeat_at: world.db.fn.now() });
        await sleep(300);
      }
    })();

    await world.startSink({ sink: { claimLeaseMs: 2000 } });
    await sleep(2000); // edit 1 fetched and waiting for the other instance
    let lock: Knex.Transaction | null = await world.db.transaction();
    try {
      await lock('pfa_modification').where({ id: e1 }).forUpdate().select('id');
      beating = false;
      await heartbeat;
      await sleep(3500); // the lease lapses; the takeover's claim now waits on the row lock
      const e2 = await world.commit({ pfaId: rec.pfaId, delta: { equipment: 'EQ-NEW' } });
      await sleep(4000); // edit 2 fetched meanwhile
      // nothing overtook edit 1
      expect(world.sim.control.writeLog().writes.filter((w) => w.pfaId === rec.pfaId)).toEqual([]);
      await lock.commit();
      lock = null;

      const [one, two] = await world.waitForOutcome([e1, e2], 45_000);
      expect([one!.sync_status, two!.sync_status]).toEqual(['synced', 'synced']);
      expect(one!.pems_version_after).toBeLessThanOrEqual(two!.pems_version_after);
      expect(world.sim.control.getRecord(rec.pfaId)!.equipment).toBe('EQ-NEW');
      const writes = world.sim.control.writeLog().writes.filter((w) => w.pfaId === rec.pfaId);
      expect(writes[writes.length - 1]!.changes.equipment).toBe('EQ-NEW');
    } finally {
      if (lock) await lock.rollback().catch(() => undefined);
    }
  });
});
