/**
 * Regression: a write was judged "already applied" against a mirror OLDER than the write's base
 * version, so the sink recorded it synced without writing (pems_version_after even older than
 * its base) and PEMS kept a value the person had explicitly overruled.
 *
 * How it happened (found by the e2e conflict tests at 0c8d368): the sink recorded a conflict
 * without updating the mirror (it read PEMS's newer record only in memory). A resolution is based
 * on PEMS's version at the conflict, newer than the mirror. A sink without that record in memory
 * (restarted, rebalanced, lane evicted) took the stale mirror as "PEMS now"; when the resolved
 * value equalled the stale mirror's value (a merge back to the original value), checkVersion
 * answered `already_applied` and nothing was written.
 *
 * Two guards now: the sink records a record read during a recheck in the mirror (169517b), so
 * the mirror is no longer stale after a conflict; and decideWrite (streams/check.ts) never trusts
 * a record older than the write's base version: it writes on the base version and PEMS's
 * optimistic lock decides (409 -> recheck with a fresh GET). The first test pins the second
 * guard; the second drives the whole story through the sink and the control API.
 */
import type { Sink } from '../../connectors/sink';
import { decideWrite } from '../../streams/check';
import type { CoalescedWrite } from '../../streams/grouping';
import type { PfaRecord } from '../../streams/pfa-record';
import { writesApplied } from '../support/world';
import { createE2eWorld, type E2eWorld } from '../e2e/harness';

describe('regression: a mirror older than the base version is not PEMS now', () => {
  it('when the known record is older than the base and already holds the value, then decideWrite writes on the base version instead of calling it applied', () => {
    const stale = { pfaId: 'P1', organization: 'O', version: 5, notes: 'original' } as unknown as PfaRecord;
    const write = {
      pfaId: 'P1',
      operation: 'update',
      baseVersion: 6,
      changes: { notes: 'original' },
      modificationIds: ['m1'],
    } as unknown as CoalescedWrite;
    expect(decideWrite({ write, current: stale, baseValues: null })).toEqual({
      kind: 'write',
      version: 6,
      rebased: false,
      onto: null,
    });
    // A record at the base is written as is; a newer one holding the value is still "applied".
    expect(decideWrite({ write, current: { ...stale, version: 6 }, baseValues: null })).toMatchObject({
      kind: 'write',
      version: 6,
    });
    expect(decideWrite({ write, current: { ...stale, version: 7 }, baseValues: null })).toMatchObject({
      kind: 'outcome',
      outcome: { kind: 'synced', alreadyApplied: true },
    });
  });

  describe('through the sink', () => {
    let world: E2eWorld;
    let sink: Sink;
    beforeEach(async () => {
      world = await createE2eWorld({ records: 1 });
      sink = await world.startSink();
    });
    afterEach(async () => {
      await world?.close();
    });

    it('when a conflict is merged back to the original value and a restarted sink writes it, then PEMS gets the merged value', async () => {
      const rec = world.records[0]!;
      const pems = world.sim.control.editAsPemsUser(rec.pfaId, { notes: 'PEMS: changed' }, 'pems.planner');
      const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'user: changed' }, baseVersion: rec.version });
      expect((await world.waitForOutcome([id]))[0]).toMatchObject({ sync_status: 'conflict' });
      const conflict = await world.db('sync_conflict').where({ modification_id: id }).first();
      expect(conflict).toMatchObject({ status: 'open', pems_version: pems.version });

      // A restart: the new sink knows only the mirror.
      await sink.close();
      await world.startSink();

      const res = await world.request(world.user, 'POST', `/conflicts/${conflict.id}/resolve`, {
        resolution: 'merge',
        values: { notes: rec.notes },
      });
      expect(res.statusCode).toBe(200);
      const newId = res.json().modification.id as string;
      const [row] = await world.waitForOutcome([newId]);
      expect(row).toMatchObject({ sync_status: 'synced', pems_version_after: pems.version + 1 });
      expect(world.sim.control.getRecord(rec.pfaId)).toMatchObject({ notes: rec.notes, version: pems.version + 1 });
      expect(writesApplied(world, rec.pfaId)).toBe(1);
      expect((await world.auditOf(newId)).map((a) => `${a.event_type}:${a.details.result ?? ''}`)).toEqual([
        'conflict.resolved:',
        'sync.write:updated',
      ]);
    });
  });
});
