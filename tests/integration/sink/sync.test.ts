import { createWorld, writesApplied, type World } from '../../support/world';

describe('sink: committed edits reach PEMS', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ records: 7 });
    await world.startSink();
  });

  afterAll(async () => {
    await world.close();
  });

  it('when a modification is committed, then PEMS has the values, the mirror the new version, the status is synced, with one result record and one audit entry', async () => {
    const rec = world.records[0]!;
    const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'moved to phase 2', monthlyRate: 6100 } });
    const [row] = await world.waitForOutcome([id]);
    expect(row!.sync_status).toBe('synced');

    const pems = world.sim.control.getRecord(rec.pfaId)!;
    expect(pems.notes).toBe('moved to phase 2');
    expect(pems.monthlyRate).toBe(6100);
    expect(pems.version).toBe(rec.version + 1);
    expect(row!.pems_version_after).toBe(pems.version);
    expect(writesApplied(world, rec.pfaId)).toBe(1);

    const mirror = await world.db('pfa_mirror').where({ organization_id: world.org, pfa_id: rec.pfaId }).first();
    expect(mirror.version).toBe(pems.version);
    expect(mirror.data.notes).toBe('moved to phase 2');
    const history = await world
      .db('pfa_mirror_history')
      .where({ organization_id: world.org, pfa_id: rec.pfaId, version: pems.version })
      .first();
    expect(history.origin).toBe('sync');

    const audit = await world.db('audit_log').where({ modification_id: id });
    expect(audit).toHaveLength(1);
    expect(audit[0].event_type).toBe('sync.write');
    expect(audit[0].actor).toBe(world.user);
    expect(audit[0].details.result).toBe('updated');

    const results = await world.decodeResults(1);
    expect(results[0]).toMatchObject({
      modificationId: id,
      outcome: 'SYNCED',
      pemsVersionAfter: pems.version,
      rebased: false,
    });
    expect(results[0]!.fieldsWritten.sort()).toEqual(['monthlyRate', 'notes']);
  });

  it('when PEMS moved a field the user did not touch, then the change is rebased and written', async () => {
    const rec = world.records[1]!;
    world.sim.control.editAsPemsUser(rec.pfaId, { description: 'changed in PEMS' });
    const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'our note' }, baseVersion: rec.version });
    const [row] = await world.waitForOutcome([id]);
    expect(row!.sync_status).toBe('synced');
    const pems = world.sim.control.getRecord(rec.pfaId)!;
    expect(pems.notes).toBe('our note');
    expect(pems.description).toBe('changed in PEMS');
    expect(pems.version).toBe(rec.version + 2);
  });

  it('when PEMS changed the same field to another value, then a conflict is recorded and nothing is written', async () => {
    const rec = world.records[2]!;
    world.sim.control.editAsPemsUser(rec.pfaId, { notes: 'PEMS says A' });
    const before = writesApplied(world, rec.pfaId);
    const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'we say B' }, baseVersion: rec.version });
    const [row] = await world.waitForOutcome([id]);
    expect(row!.sync_status).toBe('conflict');
    expect(world.sim.control.getRecord(rec.pfaId)!.notes).toBe('PEMS says A');
    expect(writesApplied(world, rec.pfaId)).toBe(before);
    const conflict = await world.db('sync_conflict').where({ modification_id: id }).first();
    expect(conflict.status).toBe('open');
    expect(conflict.fields).toEqual([
      expect.objectContaining({ field: 'notes', local: 'we say B', pems: 'PEMS says A' }),
    ]);
    // The record read from PEMS for the check is now the mirror's too, for whoever resolves it.
    const mirror = await world.db('pfa_mirror').where({ organization_id: world.org, pfa_id: rec.pfaId }).first();
    expect(mirror.version).toBe(world.sim.control.getRecord(rec.pfaId)!.version);
    expect(mirror.data.notes).toBe('PEMS says A');
    const note = await world.db('notification').where({ user_id: world.user, kind: 'conflict' });
    expect(note.length).toBeGreaterThanOrEqual(1);
  });

  it('when only child records moved the version, then the write rebases without a conflict', async () => {
    const rec = world.records[3]!;
    world.sim.control.childActivity(rec.pfaId, 2);
    const id = await world.commit({
      pfaId: rec.pfaId,
      delta: { isFundsTransferable: !rec.isFundsTransferable },
      baseVersion: rec.version,
    });
    const [row] = await world.waitForOutcome([id]);
    expect(row!.sync_status).toBe('synced');
    expect(world.sim.control.getRecord(rec.pfaId)!.version).toBe(rec.version + 3);
  });

  it('when a change breaks PEMS rules, then it is rejected with the field named and PEMS is not called', async () => {
    const rec = world.records[4]!;
    const id = await world.commit({
      pfaId: rec.pfaId,
      delta: { forecastEnd: '1999-01-01', description: 'x'.repeat(501) },
    });
    const [row] = await world.waitForOutcome([id]);
    expect(row!.sync_status).toBe('rejected');
    const fields = (row!.sync_error.fieldErrors as Array<{ field: string }>).map((f) => f.field).sort();
    expect(fields).toEqual(['description', 'forecastEnd']);
    expect(writesApplied(world, rec.pfaId)).toBe(0);
  });

  it('when several edits of one PFA are committed together, then they coalesce and all end synced in commit order', async () => {
    const rec = world.records[5]!;
    const a = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'first' } });
    const b = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'second', equipment: 'CR-9' } });
    const rows = await world.waitForOutcome([a, b]);
    expect(rows.map((r) => r.sync_status)).toEqual(['synced', 'synced']);
    const pems = world.sim.control.getRecord(rec.pfaId)!;
    expect(pems.notes).toBe('second');
    expect(pems.equipment).toBe('CR-9');
  });

  it('when edits folded into one write overlap PEMS only in part, then only the overlapping edit is a conflict and the other is rebased and written', async () => {
    const rec = world.records[6]!;
    // A slow PEMS keeps the first edit in flight, so the next two wait in the PFA's lane and fold into one write.
    world.sim.control.setFaults({ latency: { kind: 'uniform', minMs: 1200, maxMs: 1200 } });
    try {
      const first = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'first' }, baseVersion: rec.version });
      world.sim.control.editAsPemsUser(rec.pfaId, { equipment: 'EQ-FROM-PEMS' }, 'jdoe-pems');
      const overlapping = await world.commit({
        pfaId: rec.pfaId,
        delta: { equipment: 'EQ-OURS' },
        baseVersion: rec.version,
      });
      const apart = await world.commit({
        pfaId: rec.pfaId,
        delta: { description: 'ours, untouched by PEMS' },
        baseVersion: rec.version,
      });
      const rows = await world.waitForOutcome([first, overlapping, apart], 60_000);
      expect(rows.map((r) => r.sync_status)).toEqual(['synced', 'conflict', 'synced']);
      const conflicts = await world
        .db('sync_conflict')
        .whereIn('modification_id', [overlapping, apart])
        .select('modification_id', 'fields');
      expect(conflicts.map((c) => [c.modification_id, c.fields.map((f: { field: string }) => f.field)])).toEqual([
        [overlapping, ['equipment']],
      ]);
      const pems = world.sim.control.getRecord(rec.pfaId)!;
      expect(pems.equipment).toBe('EQ-FROM-PEMS');
      expect(pems.description).toBe('ours, untouched by PEMS');
      expect(pems.notes).toBe('first');
    } finally {
      world.sim.control.clearFaults();
    }
  });
});
