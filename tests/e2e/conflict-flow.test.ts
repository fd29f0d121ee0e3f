/**
 * The conflict flow as people live it (issue 5, "Tests"): a user's committed edit, a PEMS user
 * changing the same field before the sink writes it, the sink recording the conflict, and a
 * person resolving it through the control API over HTTP. Each resolution is a new committed
 * modification: Debezium carries it to the CDC topic and the real sink writes it to PEMS.
 * Nothing here writes the rows the sink or the API own; the test acts only as the user (commit),
 * as PEMS (simulator control) and as the API's caller.
 */
import type { Sink } from '../../connectors/sink';
import { writesApplied } from '../support/world';
import { createE2eWorld, type E2eWorld } from './harness';

describe('e2e: conflict, resolution through the control API, write through the sink', () => {
  let world: E2eWorld;
  let sink: Sink;

  beforeEach(async () => {
    world = await createE2eWorld({ records: 3 });
    sink = await world.startSink();
  });
  afterEach(async () => {
    await world?.close();
  });

  /**
   * PEMS moves `pems` first, then the user commits `delta` on the version they saw: the sink
   * finds PEMS moved a field the user also changed and records a conflict without writing.
   */
  async function conflictOn(
    pfaIndex: number,
    pems: Record<string, unknown>,
    delta: Record<string, unknown>,
  ): Promise<{ pfaId: string; modificationId: string; conflictId: string; pemsVersion: number; writesBefore: number }> {
    const rec = world.records[pfaIndex]!;
    const edited = world.sim.control.editAsPemsUser(rec.pfaId, pems, 'pems.planner');
    const writesBefore = writesApplied(world, rec.pfaId);
    const modificationId = await world.commit({ pfaId: rec.pfaId, delta, baseVersion: rec.version });
    const [row] = await world.waitForOutcome([modificationId]);
    expect(row).toMatchObject({ sync_status: 'conflict' });
    expect(writesApplied(world, rec.pfaId)).toBe(writesBefore);

    // The user finds it through the API: listed open for the PFA, with base, local and PEMS values.
    const list = await world.request(
      world.user,
      'GET',
      `/conflicts?organization=${world.org}&status=open&pfaId=${rec.pfaId}`,
    );
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toHaveLength(1);
    const conflictId = list.json().items[0].id as string;
    const detail = await world.request(world.user, 'GET', `/conflicts/${conflictId}`);
    expect(detail.statusCode).toBe(200);
    const conflicting = Object.keys(delta).filter((f) => f in pems);
    expect(detail.json()).toMatchObject({
      organizationId: world.org,
      pfaId: rec.pfaId,
      modificationId,
      baseVersion: rec.version,
      pemsVersion: edited.version,
      status: 'open',
      detectedBy: 'sink',
      modification: { userId: world.user, syncStatus: 'conflict', delta },
    });
    expect(detail.json().fields).toEqual(
      conflicting.map((f) =>
        expect.objectContaining({
          field: f,
          base: (rec as unknown as Record<string, unknown>)[f],
          local: delta[f],
          pems: pems[f],
        }),
      ),
    );
    expect(detail.json().autoMergeFields.sort()).toEqual(
      Object.keys(delta)
        .filter((f) => !(f in pems))
        .sort(),
    );
    return { pfaId: rec.pfaId, modificationId, conflictId, pemsVersion: edited.version, writesBefore };
  }

  /** The resolution's modification: created committed, on PEMS's version, superseding the old one. */
  async function expectResolutionRow(
    newId: string,
    oldId: string,
    pemsVersion: number,
    delta: Record<string, unknown>,
  ): Promise<void> {
    const created = await world.db('pfa_modification').where({ id: newId }).first();
    expect(created).toMatchObject({
      origin: 'conflict_resolution',
      supersedes_id: oldId,
      base_version: pemsVersion,
      delta,
    });
    expect(created.committed_at).not.toBeNull();
    expect(await world.db('pfa_modification').where({ id: oldId }).first()).toMatchObject({
      sync_status: 'superseded',
    });
  }

  it("when a person resolves with use_local, then the new modification flows through CDC and the sink and PEMS ends with the user's value", async () => {
    const userNote = 'user: crane moves to phase 2';
    const c = await conflictOn(0, { notes: 'PEMS: crane on hold' }, { notes: userNote });

    const res = await world.request(world.user, 'POST', `/conflicts/${c.conflictId}/resolve`, {
      resolution: 'use_local',
      reason: 'phase 2 is confirmed',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().conflict).toMatchObject({ status: 'resolved', resolution: 'use_local', resolvedBy: world.user });
    const newId = res.json().modification.id as string;
    expect(res.json().modification).toMatchObject({ baseVersion: c.pemsVersion, delta: { notes: userNote } });
    await expectResolutionRow(newId, c.modificationId, c.pemsVersion, { notes: userNote });

    const [row] = await world.waitForOutcome([newId]);
    const pems = world.sim.control.getRecord(c.pfaId)!;
    expect(row).toMatchObject({ sync_status: 'synced', pems_version_after: pems.version, attempts: 1 });
    expect(pems.notes).toBe(userNote);
    expect(pems.version).toBe(c.pemsVersion + 1);
    expect(writesApplied(world, c.pfaId)).toBe(c.writesBefore + 1);

    const mirror = await world.db('pfa_mirror').where({ organization_id: world.org, pfa_id: c.pfaId }).first();
    expect(mirror).toMatchObject({ version: pems.version });
    expect(mirror.data.notes).toBe(userNote);
    expect(await world.db('sync_conflict').where({ id: c.conflictId }).first()).toMatchObject({
      status: 'resolved',
      resolution: 'use_local',
      resolved_by: world.user,
      resolution_modification_id: newId,
    });

    const audit = await world.auditOf(newId);
    expect(audit.map((a) => a.event_type)).toEqual(['conflict.resolved', 'sync.write']);
    expect(audit[0]).toMatchObject({
      actor: world.user,
      details: expect.objectContaining({
        conflictId: c.conflictId,
        resolution: 'use_local',
        supersededModificationId: c.modificationId,
      }),
    });
    expect(audit[1]!.details).toMatchObject({
      result: 'updated',
      version: c.pemsVersion,
      changes: { notes: userNote },
    });
    // The old modification's own trail: the attempt PEMS refused with 409.
    expect((await world.auditOf(c.modificationId)).map((a) => `${a.event_type}:${a.details.result}`)).toEqual([
      'sync.write:conflict',
    ]);

    const results = await world.results(2);
    expect(results.map((r) => [r.modificationId, r.outcome])).toEqual([
      [c.modificationId, 'CONFLICT'],
      [newId, 'SYNCED'],
    ]);
    expect(results[1]).toMatchObject({
      fieldsWritten: ['notes'],
      pemsVersionAfter: pems.version,
      baseVersion: c.pemsVersion,
    });

    const status = await world.request(world.user, 'GET', `/status?organization=${world.org}`);
    expect(status.json().counts).toMatchObject({ conflictsOpen: 0, synced: 1 });
  });

  it("when a person resolves with use_pems, then PEMS keeps its value, only the user's other changes are written, and the old modification is superseded", async () => {
    const pemsNote = 'PEMS: keep as is';
    const c = await conflictOn(1, { notes: pemsNote }, { notes: 'user: change it', equipment: 'CR-E2E-7' });
    expect((await world.request(world.user, 'GET', `/conflicts/${c.conflictId}`)).json().autoMergeFields).toEqual([
      'equipment',
    ]);

    const res = await world.request(world.user, 'POST', `/conflicts/${c.conflictId}/resolve`, {
      resolution: 'use_pems',
    });
    expect(res.statusCode).toBe(200);
    const newId = res.json().modification.id as string;
    // Only the field that did not conflict is left to write.
    await expectResolutionRow(newId, c.modificationId, c.pemsVersion, { equipment: 'CR-E2E-7' });

    const [row] = await world.waitForOutcome([newId]);
    expect(row).toMatchObject({ sync_status: 'synced' });
    const pems = world.sim.control.getRecord(c.pfaId)!;
    expect(pems.notes).toBe(pemsNote);
    expect(pems.equipment).toBe('CR-E2E-7');
    expect(pems.version).toBe(c.pemsVersion + 1);
    expect(writesApplied(world, c.pfaId)).toBe(c.writesBefore + 1);
    expect(await world.db('sync_conflict').where({ id: c.conflictId }).first()).toMatchObject({
      status: 'resolved',
      resolution: 'use_pems',
      resolution_modification_id: newId,
    });

    const audit = await world.auditOf(newId);
    expect(audit.map((a) => a.event_type)).toEqual(['conflict.resolved', 'sync.write']);
    expect(audit[1]!.details).toMatchObject({ result: 'updated', changes: { equipment: 'CR-E2E-7' } });
    const results = await world.results(2);
    expect(results[1]).toMatchObject({ modificationId: newId, outcome: 'SYNCED', fieldsWritten: ['equipment'] });
  });

  it('when use_pems leaves nothing to write, then no modification is created, PEMS is not written, and the conflict is resolved', async () => {
    const pemsNote = 'PEMS: the only change';
    const c = await conflictOn(2, { notes: pemsNote }, { notes: 'user: the only change' });

    const res = await world.request(world.user, 'POST', `/conflicts/${c.conflictId}/resolve`, {
      resolution: 'use_pems',
      reason: 'PEMS is right',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().modification).toBeNull();
    const mods = await world.db('pfa_modification').where({ organization_id: world.org, pfa_id: c.pfaId });
    expect(mods.map((m) => [m.id, m.sync_status])).toEqual([[c.modificationId, 'superseded']]);
    expect(await world.db('sync_conflict').where({ id: c.conflictId }).first()).toMatchObject({
      status: 'resolved',
      resolution: 'use_pems',
      resolution_modification_id: null,
    });
    // Audited against the superseded modification, as there is no new one.
    const audit = await world.auditOf(c.modificationId);
    expect(audit.map((a) => a.event_type)).toEqual(['sync.write', 'conflict.resolved']);
    expect(audit[1]).toMatchObject({
      actor: world.user,
      details: expect.objectContaining({ resolution: 'use_pems', newModificationId: null, reason: 'PEMS is right' }),
    });

    // The CDC event of the supersede transition reaches the sink too; it must not write. An edit
    // of another PFA committed afterwards and synced shows the sink has moved past it.
    const other = world.records[0]!;
    const later = await world.commit({ pfaId: other.pfaId, delta: { notes: 'a later, unrelated edit' } });
    await world.waitForOutcome([later]);
    expect(writesApplied(world, c.pfaId)).toBe(c.writesBefore);
    expect(world.sim.control.getRecord(c.pfaId)).toMatchObject({ notes: pemsNote, version: c.pemsVersion });
  });

  it('when a person merges with supplied values, then PEMS ends with the merged values', async () => {
    const rec = world.records[0]!;
    const c = await conflictOn(
      0,
      { notes: 'PEMS: two weeks late', description: 'PEMS: 80t crane' },
      { notes: 'user: one week late', description: 'user: 100t crane', equipment: 'CR-E2E-9' },
    );
    // A value for a field that is not in conflict is refused, and nothing changes.
    const bad = await world.request(world.user, 'POST', `/conflicts/${c.conflictId}/resolve`, {
      resolution: 'merge',
      values: { notes: 'x', description: 'y', dor: 'BEO' },
    });
    expect(bad.statusCode).toBe(400);
    expect(await world.db('sync_conflict').where({ id: c.conflictId }).first()).toMatchObject({ status: 'open' });

    const merged = { notes: 'merged: ten days late', description: 'merged: 100t crane, PEMS booking' };
    const res = await world.request(world.user, 'POST', `/conflicts/${c.conflictId}/resolve`, {
      resolution: 'merge',
      values: merged,
    });
    expect(res.statusCode).toBe(200);
    const newId = res.json().modification.id as string;
    await expectResolutionRow(newId, c.modificationId, c.pemsVersion, { ...merged, equipment: 'CR-E2E-9' });

    const [row] = await world.waitForOutcome([newId]);
    expect(row).toMatchObject({ sync_status: 'synced' });
    const pems = world.sim.control.getRecord(rec.pfaId)!;
    expect(pems).toMatchObject({ ...merged, equipment: 'CR-E2E-9', version: c.pemsVersion + 1 });
    expect(writesApplied(world, rec.pfaId)).toBe(c.writesBefore + 1);
    expect(await world.db('sync_conflict').where({ id: c.conflictId }).first()).toMatchObject({
      status: 'resolved',
      resolution: 'merge',
      resolution_modification_id: newId,
    });
    const audit = await world.auditOf(newId);
    expect(audit.map((a) => a.event_type)).toEqual(['conflict.resolved', 'sync.write']);
    expect(audit[0]!.details).toMatchObject({ resolution: 'merge', delta: { ...merged, equipment: 'CR-E2E-9' } });
    const results = await world.results(2);
    expect(results[1]).toMatchObject({ modificationId: newId, outcome: 'SYNCED' });
    expect(results[1]!.fieldsWritten.sort()).toEqual(['description', 'equipment', 'notes']);
  });

  it('when PEMS moves the field again after the resolution but before the sink writes it, then it is a new conflict, never an overwrite', async () => {
    const userNote = 'user: ship on Monday';
    const c = await conflictOn(1, { notes: 'PEMS: ship on Friday' }, { notes: userNote });

    // Hold the sink so the PEMS edit surely lands between the resolution and the write.
    await sink.close();
    const res = await world.request(world.user, 'POST', `/conflicts/${c.conflictId}/resolve`, {
      resolution: 'use_local',
    });
    expect(res.statusCode).toBe(200);
    const newId = res.json().modification.id as string;
    const movedAgain = world.sim.control.editAsPemsUser(c.pfaId, { notes: 'PEMS: ship on Wednesday' }, 'pems.planner');
    expect(movedAgain.version).toBe(c.pemsVersion + 1);
    sink = await world.startSink();

    const [row] = await world.waitForOutcome([newId]);
    expect(row).toMatchObject({ sync_status: 'conflict' });
    expect(world.sim.control.getRecord(c.pfaId)).toMatchObject({
      notes: 'PEMS: ship on Wednesday',
      version: movedAgain.version,
    });
    expect(writesApplied(world, c.pfaId)).toBe(c.writesBefore);

    const second = await world.db('sync_conflict').where({ modification_id: newId }).first();
    expect(second).toMatchObject({ status: 'open', base_version: c.pemsVersion, pems_version: movedAgain.version });
    expect(second.fields).toEqual([
      expect.objectContaining({ field: 'notes', local: userNote, pems: 'PEMS: ship on Wednesday' }),
    ]);
    expect(await world.db('sync_conflict').where({ id: c.conflictId }).first()).toMatchObject({ status: 'resolved' });
    const notes = await world
      .db('notification')
      .where({ organization_id: world.org, user_id: world.user, kind: 'conflict' });
    expect(notes.map((n) => n.payload.modificationId).sort()).toEqual([c.modificationId, newId].sort());

    // Resolved again on PEMS's newest version, the user's value lands.
    const again = await world.request(world.user, 'POST', `/conflicts/${second.id}/resolve`, {
      resolution: 'use_local',
    });
    expect(again.statusCode).toBe(200);
    const thirdId = again.json().modification.id as string;
    const [third] = await world.waitForOutcome([thirdId]);
    expect(third).toMatchObject({ sync_status: 'synced', base_version: movedAgain.version });
    expect(world.sim.control.getRecord(c.pfaId)).toMatchObject({ notes: userNote, version: movedAgain.version + 1 });
    expect(writesApplied(world, c.pfaId)).toBe(c.writesBefore + 1);
    expect((await world.auditOf(thirdId)).map((a) => a.event_type)).toEqual(['conflict.resolved', 'sync.write']);
    const results = await world.results(3);
    expect(results.map((r) => [r.modificationId, r.outcome])).toEqual([
      [c.modificationId, 'CONFLICT'],
      [newId, 'CONFLICT'],
      [thirdId, 'SYNCED'],
    ]);
  });
});
