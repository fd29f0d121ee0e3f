/**
 * Regression (found by tests/faults/infra-restarts.test.ts, Postgres crash): the sink claimed a
 * batch (committed → syncing), then Postgres went away before the batch's context was loaded.
 * eachBatch threw, but every record's offset had already been resolved, so kafkajs fetched on
 * from after them: the claimed modifications stayed in 'syncing' until the next restart or
 * rebalance (lost, for as long as the sink ran).
 *
 * Fix (connectors/sink/task.ts): offsets are resolved only once the batch is claimed and queued;
 * a failure before that makes kafkajs fetch the same records again, and the claim takes up
 * modifications it finds in 'syncing'.
 *
 * The failure is made real, in Postgres: the mirror table the dispatch reads after claiming is
 * renamed away for a moment, so that query fails exactly as it would while Postgres restarts. (It
 * was the history table until an edit made on the mirror's version stopped reading the history.)
 */
import { createWorld, writesApplied, type World } from '../support/world';

describe('regression: a Postgres failure between claim and queue does not strand the claimed modifications', () => {
  let world: World;
  let renamed = false;

  beforeAll(async () => {
    world = await createWorld({ records: 2 });
    await world.startSink();
  });

  afterAll(async () => {
    if (renamed) await world.db.raw('ALTER TABLE pfa_mirror_away RENAME TO pfa_mirror');
    await world.close();
  });

  it('when loading the context fails after the claim, then the same records are fetched again and each modification is synced once', async () => {
    const rec = world.records[0]!;
    // The edit and the rename commit together (DDL is transactional): its change event can only
    // reach the sink once the mirror is gone.
    const id = await world.db.transaction(async (trx) => {
      const committed = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'across a database failure' }, trx });
      await trx.raw('ALTER TABLE pfa_mirror RENAME TO pfa_mirror_away');
      return committed;
    });
    renamed = true;

    // Claimed, and the dispatch failed after the claim (the only way it can be 'syncing' with no PEMS write).
    const started = Date.now();
    for (;;) {
      const row = await world.db('pfa_modification').where({ id }).first('sync_status');
      if (row?.sync_status === 'syncing') break;
      if (Date.now() - started > 20_000) throw new Error(`never claimed: ${row?.sync_status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1000)); // a kafkajs retry or two fail as well
    expect(writesApplied(world, rec.pfaId)).toBe(0);

    await world.db.raw('ALTER TABLE pfa_mirror_away RENAME TO pfa_mirror');
    renamed = false;
    const [row] = await world.waitForOutcome([id], 60_000);
    expect(row!.sync_status).toBe('synced');
    expect(writesApplied(world, rec.pfaId)).toBe(1);
    expect(world.sim.control.getRecord(rec.pfaId)!.notes).toBe('across a database failure');
  });
});
