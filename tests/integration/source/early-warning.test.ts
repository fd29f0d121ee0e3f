import { readSide, eventually, mirrorRow, type ReadSideFixture } from './harness';

describe('read side: early conflict warning', () => {
  let f: ReadSideFixture;

  beforeEach(async () => {
    f = await readSide('SRCW');
  });

  afterEach(async () => {
    await f.close();
  });

  it('when PEMS moves a field a committed modification also changes, then a conflict is opened early, the user notified and the audit written, and the modification is left alone', async () => {
    const [id] = f.sim.control.seed({ organization: f.org, count: 1 }) as [string];
    f.sim.control.editAsPemsUser(id, { forecastEnd: '2026-12-31', notes: 'base notes' }, 'jdoe');
    await f.mirror();
    const poller = f.poller();
    await poller.runOnce();
    const base = f.sim.control.getRecord(id)!;
    await eventually(
      async () => (await mirrorRow(f.db, f.org, id))?.version === base.version,
      30_000,
      'the base version',
    );

    // Two pending edits on the base version: one to forecastEnd, one to notes only; and a synced one to forecastEnd.
    const [clashing] = await f
      .db('pfa_modification')
      .insert({
        organization_id: f.org,
        pfa_id: id,
        user_id: f.userId,
        delta: { forecastEnd: '2027-01-31', description: 'mine' },
        base_version: base.version,
        sync_status: 'queued',
        committed_at: new Date(),
      })
      .returning('id');
    const [unrelated] = await f
      .db('pfa_modification')
      .insert({
        organization_id: f.org,
        pfa_id: id,
        user_id: f.userId,
        delta: { notes: 'user notes' },
        base_version: base.version,
        sync_status: 'committed',
        committed_at: new Date(),
      })
      .returning('id');
    const [done] = await f
      .db('pfa_modification')
      .insert({
        organization_id: f.org,
        pfa_id: id,
        user_id: f.userId,
        delta: { forecastEnd: '2027-02-28' },
        base_version: base.version,
        sync_status: 'synced',
        committed_at: new Date(),
      })
      .returning('id');

    // A PEMS user moves forecastEnd.
    const moved = f.sim.control.editAsPemsUser(id, { forecastEnd: '2027-06-30' }, 'mchen');
    await poller.runOnce();
    const conflict = await eventually(
      async () => f.db('sync_conflict').where({ modification_id: clashing.id }).first(),
      30_000,
      'the early warning',
    );
    expect(conflict).toMatchObject({
      organization_id: f.org,
      pfa_id: id,
      status: 'open',
      detected_by: 'early_warning',
      base_version: base.version,
      pems_version: moved.version,
      fields: [{ field: 'forecastEnd', base: '2026-12-31', local: '2027-01-31', pems: '2027-06-30' }],
    });
    expect(await f.db('sync_conflict').whereIn('modification_id', [unrelated.id, done.id])).toEqual([]);

    const notes = await f.db('notification').where({ organization_id: f.org });
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({
      user_id: f.userId,
      kind: 'conflict_warning',
      read_at: null,
      payload: {
        conflictId: conflict.id,
        modificationId: clashing.id,
        pfaId: id,
        pemsVersion: moved.version,
        pemsUpdatedBy: 'mchen',
      },
    });
    const audit = await f.db('audit_log').where({ organization_id: f.org });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: 'system:mirror',
      event_type: 'conflict.early_warning',
      pfa_id: id,
      modification_id: clashing.id,
      details: { conflictId: conflict.id, fields: conflict.fields },
    });
    // The sink decides at write time: statuses unchanged.
    const statuses = await f
      .db('pfa_modification')
      .whereIn('id', [clashing.id, unrelated.id, done.id])
      .select('id', 'sync_status');
    expect(Object.fromEntries(statuses.map((s: { id: string; sync_status: string }) => [s.id, s.sync_status]))).toEqual(
      {
        [clashing.id]: 'queued',
        [unrelated.id]: 'committed',
        [done.id]: 'synced',
      },
    );
    expect(await f.registry.metrics()).toContain(`pems_sync_mirror_early_warnings_total{organization="${f.org}"} 1`);

    // PEMS moves the same field again: the open conflict stands, no second warning.
    const again = f.sim.control.editAsPemsUser(id, { forecastEnd: '2027-07-31' }, 'mchen');
    await poller.runOnce();
    await eventually(
      async () => (await mirrorRow(f.db, f.org, id))?.version === again.version,
      30_000,
      'the second PEMS edit',
    );
    expect(await f.db('sync_conflict').where({ organization_id: f.org })).toHaveLength(1);
    expect(await f.db('notification').where({ organization_id: f.org })).toHaveLength(1);
  });

  it('when PEMS only bumps the version through child-record activity, then no warning is raised', async () => {
    const [id] = f.sim.control.seed({ organization: f.org, count: 1 }) as [string];
    await f.mirror();
    const poller = f.poller();
    await poller.runOnce();
    const base = f.sim.control.getRecord(id)!;
    await eventually(
      async () => (await mirrorRow(f.db, f.org, id))?.version === base.version,
      30_000,
      'the base version',
    );
    await f.db('pfa_modification').insert({
      organization_id: f.org,
      pfa_id: id,
      user_id: f.userId,
      delta: { forecastEnd: '2027-01-31' },
      base_version: base.version,
      sync_status: 'committed',
      committed_at: new Date(),
    });
    const bumped = f.sim.control.childActivity(id, 3);
    await poller.runOnce();
    await eventually(
      async () => (await mirrorRow(f.db, f.org, id))?.version === bumped.version,
      30_000,
      'the bumped version',
    );
    expect(await f.db('sync_conflict').where({ organization_id: f.org })).toEqual([]);
    expect(await f.db('notification').where({ organization_id: f.org })).toEqual([]);
  });
});
