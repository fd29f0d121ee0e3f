/**
 * Claims with an owner and a lease (connectors/sink/claims.ts), on the real database and, in the
 * second part, with the real sink: work another live instance holds is waited for, not redone;
 * work of an instance that stopped or went silent is taken over.
 */
import { Claims } from '../../../connectors/sink/claims';
import { createLogger } from '../../../connectors/observability';
import { createWorld, writesApplied, type World } from '../../support/world';

const logger = createLogger('silent');

describe('sink claims: owner and lease', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ records: 4 });
  });

  afterAll(async () => {
    await world.close();
  });

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it('when a live instance holds a claim, then another cannot take it until the owner stops, and then takes it over from syncing', async () => {
    const a = new Claims({ db: world.db, leaseMs: 10_000, logger });
    const b = new Claims({ db: world.db, leaseMs: 10_000, logger });
    await a.start();
    await b.start();
    try {
      const ids = [
        await world.commit({ pfaId: world.records[0]!.pfaId, delta: { notes: 'x' } }),
        await world.commit({ pfaId: world.records[1]!.pfaId, delta: { notes: 'y' } }),
      ];
      // Keep the sink of this world out of it: these modifications are claimed by hand.
      const first = await a.claim(ids);
      expect(first.claimed.map((c) => c.prev).sort()).toEqual(['committed', 'committed']);

      const second = await b.claim(ids);
      expect(second.claimed).toEqual([]);
      expect(second.held.sort()).toEqual([...ids].sort());
      expect((await b.check(ids)).held.sort()).toEqual([...ids].sort());

      // The owner itself may claim again (a redelivery to the same instance).
      expect((await a.claim([ids[0]!])).claimed).toEqual([{ id: ids[0], prev: 'syncing' }]);

      await world.db('pfa_modification').where({ id: ids[1] }).update({ sync_status: 'synced' });
      await a.stop();
      const after = await b.check(ids);
      expect(after).toEqual({ settled: [ids[1]], takeable: [ids[0]], held: [] });
      const taken = await b.claim(ids);
      expect(taken.claimed).toEqual([{ id: ids[0], prev: 'syncing' }]);
      expect(taken.settled).toEqual([ids[1]]);
      expect(await world.db('pfa_modification').where({ id: ids[0] }).first('claimed_by')).toEqual({
        claimed_by: b.id,
      });
    } finally {
      await b.stop();
    }
  });

  it('when the owner was killed (its heartbeat older than the lease), then its claims are takeable', async () => {
    const b = new Claims({ db: world.db, leaseMs: 2_000, logger });
    await b.start();
    try {
      await world.db('sink_instance').insert({
        id: 'killed-instance',
        host: 'h',
        pid: 1,
        heartbeat_at: world.db.raw(`now() - interval '3 seconds'`),
      });
      const id = await world.commit({ pfaId: world.records[2]!.pfaId, delta: { notes: 'z' } });
      await world
        .db('pfa_modification')
        .where({ id })
        .update({ sync_status: 'syncing', claimed_by: 'killed-instance' });
      expect(await b.check([id])).toEqual({ settled: [], takeable: [id], held: [] });

      await world.db('sink_instance').where({ id: 'killed-instance' }).update({ heartbeat_at: world.db.fn.now() });
      expect(await b.check([id])).toEqual({ settled: [], takeable: [], held: [id] });
      await world.db('pfa_modification').where({ id }).update({ sync_status: 'rejected' }); // out of the sink's way
    } finally {
      await world.db('sink_instance').where({ id: 'killed-instance' }).delete();
      await b.stop();
    }
  });

  it('when the sink receives an event whose modification another live instance works on, then it writes nothing until that instance is gone, then syncs it once', async () => {
    const rec = world.records[3]!;
    await world.db('sink_instance').insert({ id: 'other-instance', host: 'h', pid: 2 });
    const sink = await world.startSink();
    const metric = async (name: string): Promise<number> =>
      (await sink.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
    // Committed and claimed by the other instance in one transaction: Debezium emits the insert
    // (committed: work) once the transaction commits, so this sink can only ever find it held.
    const id = await world.db.transaction(async (trx) => {
      const committed = await world.commit({
        pfaId: rec.pfaId,
        delta: { notes: 'held elsewhere' },
        baseVersion: rec.version,
        trx,
      });
      await trx('pfa_modification')
        .where({ id: committed })
        .update({ sync_status: 'syncing', claimed_by: 'other-instance' });
      return committed;
    });
    await sleep(3000);
    expect(await world.db('pfa_modification').where({ id }).first('sync_status', 'claimed_by')).toEqual({
      sync_status: 'syncing',
      claimed_by: 'other-instance',
    });
    expect(writesApplied(world, rec.pfaId)).toBe(0);
    expect(await metric('pems_sync_claims_waiting')).toBe(1);

    await world.db('sink_instance').where({ id: 'other-instance' }).delete(); // it stopped
    const [row] = await world.waitForOutcome([id], 20_000);
    expect(row!.sync_status).toBe('synced');
    expect(writesApplied(world, rec.pfaId)).toBe(1);
    expect(await metric('pems_sync_claims_taken_over_total')).toBe(1);
    expect(await metric('pems_sync_claims_waiting')).toBe(0);
  });
});
