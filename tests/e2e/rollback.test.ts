/**
 * A rollback as people do it (issue 5, "Rollback"): two edits synced to PEMS through the sink
 * leave versions in pfa_mirror_history; a member with perm_Sync asks to roll back to the first,
 * the same administrator cannot approve it (four eyes), a different administrator approves, and
 * the approval is a committed modification that Debezium and the sink write to PEMS.
 */
import { writesApplied } from '../support/world';
import { createE2eWorld, type E2eWorld } from './harness';

describe('e2e: rollback requested, approved by another administrator, written to PEMS', () => {
  let world: E2eWorld;

  beforeEach(async () => {
    world = await createE2eWorld({ records: 2 });
    await world.startSink();
  });
  afterEach(async () => {
    await world?.close();
  });

  it('when the requester approves, then 403 and nothing is written; when another administrator approves, then PEMS has the old values again and every step is audited', async () => {
    const rec = world.records[0]!;
    const v0 = rec.version;
    // Two synced edits: v0+1 = first plan, v0+2 = second plan.
    const first = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'first plan', equipment: 'CR-RB-1' } });
    expect((await world.waitForOutcome([first]))[0]).toMatchObject({
      sync_status: 'synced',
      pems_version_after: v0 + 1,
    });
    const second = await world.commit({
      pfaId: rec.pfaId,
      delta: { notes: 'second plan', description: 'second description' },
    });
    expect((await world.waitForOutcome([second]))[0]).toMatchObject({
      sync_status: 'synced',
      pems_version_after: v0 + 2,
    });
    expect(world.sim.control.getRecord(rec.pfaId)).toMatchObject({
      notes: 'second plan',
      description: 'second description',
      equipment: 'CR-RB-1',
      version: v0 + 2,
    });

    const base = `/organizations/${world.org}/pfas/${rec.pfaId}`;
    const history = await world.request(world.reader, 'GET', `${base}/history`);
    expect(history.statusCode).toBe(200);
    expect(history.json().items.map((h: { version: number; origin: string }) => [h.version, h.origin])).toEqual([
      [v0 + 2, 'sync'],
      [v0 + 1, 'sync'],
      [v0, 'seed'],
    ]);
    const preview = await world.request(world.reader, 'GET', `${base}/rollback-preview?version=${v0 + 1}`);
    expect(preview.statusCode).toBe(200);
    expect(preview.json()).toMatchObject({ currentVersion: v0 + 2, targetVersion: v0 + 1 });
    const changes = preview.json().changes as Array<{ field: string; before: unknown; after: unknown }>;
    expect(changes.map((c) => [c.field, c.before, c.after]).sort()).toEqual(
      [
        ['description', 'second description', rec.description],
        ['notes', 'second plan', 'first plan'],
      ].sort(),
    );

    // Reading is not enough to ask.
    expect(
      (await world.request(world.reader, 'POST', `${base}/rollbacks`, { targetVersion: v0 + 1, reason: 'no' }))
        .statusCode,
    ).toBe(403);
    const requested = await world.request(world.admin1, 'POST', `${base}/rollbacks`, {
      targetVersion: v0 + 1,
      reason: 'the second plan was entered by mistake',
    });
    expect(requested.statusCode).toBe(201);
    const requestId = requested.json().id as string;
    expect(requested.json()).toMatchObject({
      status: 'pending',
      requestedBy: world.admin1,
      fromVersion: v0 + 2,
      targetVersion: v0 + 1,
    });

    // Four eyes: the requester, although an administrator, cannot approve; a member who is not
    // an administrator cannot either. Neither creates a modification.
    const seen = { previewHash: requested.json().previewHash as string };
    const self = await world.request(world.admin1, 'POST', `/rollbacks/${requestId}/approve`, seen);
    expect(self.statusCode).toBe(403);
    expect(self.json().error).toBe('FOUR_EYES_REQUIRED');
    expect((await world.request(world.user, 'POST', `/rollbacks/${requestId}/approve`, seen)).statusCode).toBe(403);
    expect(await world.db('rollback_request').where({ id: requestId }).first()).toMatchObject({
      status: 'pending',
      decided_by: null,
      modification_id: null,
    });
    expect(
      await world
        .db('pfa_modification')
        .where({ organization_id: world.org, pfa_id: rec.pfaId })
        .count<{ n: string }[]>({ n: '*' }),
    ).toEqual([{ n: '2' }]);

    const approved = await world.request(world.admin2, 'POST', `/rollbacks/${requestId}/approve`, {
      ...seen,
      reason: 'checked with the site',
    });
    expect(approved.statusCode).toBe(200);
    const modificationId = approved.json().modificationId as string;
    expect(approved.json()).toMatchObject({
      baseVersion: v0 + 2,
      delta: { notes: 'first plan', description: rec.description },
    });
    expect(await world.db('pfa_modification').where({ id: modificationId }).first()).toMatchObject({
      origin: 'rollback',
      user_id: world.admin1,
      base_version: v0 + 2,
    });

    const [row] = await world.waitForOutcome([modificationId]);
    expect(row).toMatchObject({ sync_status: 'synced', pems_version_after: v0 + 3 });
    expect(world.sim.control.getRecord(rec.pfaId)).toMatchObject({
      notes: 'first plan',
      description: rec.description,
      equipment: 'CR-RB-1',
      version: v0 + 3,
    });
    expect(writesApplied(world, rec.pfaId)).toBe(3);
    expect(
      await world
        .db('pfa_mirror_history')
        .where({ organization_id: world.org, pfa_id: rec.pfaId, version: v0 + 3 })
        .first(),
    ).toMatchObject({ origin: 'sync' });

    expect(await world.db('rollback_request').where({ id: requestId }).first()).toMatchObject({
      status: 'approved',
      requested_by: world.admin1,
      decided_by: world.admin2,
      decision_reason: 'checked with the site',
      modification_id: modificationId,
    });
    const asked = await world.db('audit_log').where({ organization_id: world.org, event_type: 'rollback.requested' });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({
      actor: world.admin1,
      pfa_id: rec.pfaId,
      details: expect.objectContaining({ rollbackRequestId: requestId, targetVersion: v0 + 1 }),
    });
    const trail = await world.auditOf(modificationId);
    expect(trail.map((a) => `${a.event_type}:${a.actor}`)).toEqual([
      `rollback.approved:${world.admin2}`,
      `sync.write:${world.admin1}`,
    ]);
    expect(trail[0]!.details).toMatchObject({ rollbackRequestId: requestId, requestedBy: world.admin1 });
    expect(trail[1]!.details).toMatchObject({ result: 'updated', version: v0 + 2 });
    // The refused approvals left no trace in the trail but the request.
    expect(
      await world
        .db('audit_log')
        .where({ organization_id: world.org })
        .whereIn('event_type', ['rollback.approved', 'rollback.rejected']),
    ).toHaveLength(1);

    const results = await world.results(3);
    expect(results.map((r) => [r.modificationId, r.outcome])).toEqual([
      [first, 'SYNCED'],
      [second, 'SYNCED'],
      [modificationId, 'SYNCED'],
    ]);
    expect(results[2]!.fieldsWritten.sort()).toEqual(['description', 'notes']);
  });
});
