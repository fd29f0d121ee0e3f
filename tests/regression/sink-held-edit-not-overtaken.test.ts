/**
 * Regression (issue 11, the full rebalance scenario: 1 outcome_mismatch): a rebalance moved a
 * partition while its old owner was still writing edit 1 of a PFA. The new owner found edit 1
 * held by that (live) instance and waited for it, but claimed and wrote edit 2 of the same PFA
 * at once. When edit 1 then came to it (taken over after the lease, or folded with edit 2 in
 * one write), the older edit was applied after the newer one (later wins per field): PEMS kept
 * edit 1's value while edit 2 was recorded synced at that version ("recorded at v15 with EQ-401,
 * PEMS's history at v15 holds EQ-381").
 *
 * Fix (connectors/sink/ledger.ts, sort): a later edit of a PFA waits behind an earlier edit another
 * live instance holds (its claim given back meanwhile), and a lane folds its edits in commit
 * order whichever dispatch queued them.
 *
 * The window is placed exactly: the other instance is a sink_instance row with a fresh
 * heartbeat that holds edit 1's claim, and it falls silent, so edit 1 is taken over after the lease.
 */
import { createWorld, writesApplied, type World } from '../support/world';
import { cdcEnd, waitForCdcEvents } from '../support/cdc';

describe('regression: an edit another instance holds is not overtaken by a later edit of its PFA', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ records: 1 });
  });

  afterAll(async () => {
    await world
      .db('sink_instance')
      .where({ id: `other-${world.org}` })
      .delete();
    await world.close();
  });

  it('when edit 1 is held by a live instance that then falls silent, then edit 2 is written after it and PEMS keeps edit 2', async () => {
    const rec = world.records[0]!;
    const other = `other-${world.org}`;
    const cdcFrom = await cdcEnd();
    const e1 = await world.commit({ pfaId: rec.pfaId, delta: { equipment: 'EQ-381' } });
    await world.db('sink_instance').insert({ id: other, host: 'elsewhere', pid: 1 });
    await world.db('pfa_modification').where({ id: e1 }).update({ sync_status: 'syncing', claimed_by: other });
    const e2 = await world.commit({ pfaId: rec.pfaId, delta: { equipment: 'EQ-401' } });
    await waitForCdcEvents(cdcFrom, 2); // the two commits (a claim is not captured: Debezium skips its delete)

    // Lease 3 s: the other instance's heartbeat (written once, above) lapses while edit 2 waits.
    await world.startSink({ sink: { claimLeaseMs: 3000 } });
    const [one, two] = await world.waitForOutcome([e1, e2], 45_000);
    expect(one!.sync_status).toBe('synced');
    expect(two!.sync_status).toBe('synced');
    // Edit 1 went first (alone or folded with edit 2): edit 2's value is what PEMS keeps.
    expect(one!.pems_version_after).toBeLessThanOrEqual(two!.pems_version_after);
    const pems = world.sim.control.getRecord(rec.pfaId)!;
    expect(pems.equipment).toBe('EQ-401');
    const writes = world.sim.control.writeLog().writes.filter((w) => w.pfaId === rec.pfaId);
    expect(writes[writes.length - 1]!.changes.equipment).toBe('EQ-401');
    expect(writes[writes.length - 1]!.version).toBe(two!.pems_version_after);
    expect(writesApplied(world, rec.pfaId)).toBeLessThanOrEqual(2);
  });
});
