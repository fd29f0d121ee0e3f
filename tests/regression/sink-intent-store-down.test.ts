/**
 * Regression (found by tests/faults/infra-restarts.test.ts, Postgres crash): the write-ahead
 * intent could not be stored because Postgres was restarting; the writer reported that as a
 * transient PEMS failure, each retry spent an attempt, and once the retries were gone the
 * modification failed and was dead-lettered — although nothing had been sent to PEMS and PEMS
 * was fine ("gave up after 4 attempts: write intents could not be stored, nothing sent: connect
 * ECONNREFUSED").
 *
 * Fix: that error has its own code (PEMS_SYNC_INTENT_STORE_UNAVAILABLE), a pause that spends no
 * attempt (streams/retry.ts), like an unavailable rate limiter.
 *
 * The failure is made real in Postgres: the intent table is renamed away for longer than the
 * test sink's whole retry window (50 + 100 + 200 ms).
 */
import { createWorld, writesApplied, type World } from '../support/world';

describe('regression: Postgres unable to store write intents does not fail the write', () => {
  let world: World;
  let renamed = false;

  beforeAll(async () => {
    world = await createWorld({ records: 1 });
    await world.startSink();
  });

  afterAll(async () => {
    if (renamed) await world.db.raw('ALTER TABLE pems_write_intent_away RENAME TO pems_write_intent');
    await world.close();
  });

  it('when the intent cannot be stored for longer than the retry window, then the write waits, nothing is sent, and it syncs once the database is back', async () => {
    const rec = world.records[0]!;
    await world.db.raw('ALTER TABLE pems_write_intent RENAME TO pems_write_intent_away');
    renamed = true;
    const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'while intents cannot be stored' } });

    await new Promise((r) => setTimeout(r, 3000)); // ten times the retry window
    const row = await world.db('pfa_modification').where({ id }).first('sync_status');
    expect(row.sync_status).toBe('syncing');
    expect(writesApplied(world, rec.pfaId)).toBe(0);

    await world.db.raw('ALTER TABLE pems_write_intent_away RENAME TO pems_write_intent');
    renamed = false;
    const [done] = await world.waitForOutcome([id], 30_000);
    expect(done!.sync_status).toBe('synced');
    expect(writesApplied(world, rec.pfaId)).toBe(1);
  });
});
