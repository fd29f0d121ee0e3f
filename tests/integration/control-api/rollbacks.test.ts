import { call, createOrg, harness, pfaRecord, seedVersions, type Harness, type TestOrg } from './harness';

describe('control API: rollback with four eyes', () => {
  let h: Harness;
  let org: TestOrg;
  let other: TestOrg;

  beforeAll(async () => {
    h = await harness();
    org = await createOrg(h.db, 'RBK');
    other = await createOrg(h.db, 'RBKX');
  });
  afterAll(async () => {
    await h.close();
  });

  /** v1 → v2 (rate up) → v3 (child record: no field change) → v4 (notes changed). */
  async function seed(pfaId: string): Promise<void> {
    await seedVersions(h.db, [
      pfaRecord(org.id, pfaId, 1, { monthlyRate: 5000, notes: 'first' }),
      pfaRecord(org.id, pfaId, 2, { monthlyRate: 6500, notes: 'first' }),
      pfaRecord(org.id, pfaId, 3, { monthlyRate: 6500, notes: 'first' }),
      pfaRecord(org.id, pfaId, 4, { monthlyRate: 6500, notes: 'second' }),
    ]);
  }

  it('when the history and a preview are asked for, then every version with who and when, and the field diff against PEMS now', async () => {
    await seed('PFA-HIST');
    const hist = await call(h, org.reader, 'GET', `/organizations/${org.id}/pfas/PFA-HIST/history`);
    expect(hist.statusCode).toBe(200);
    expect(
      hist
        .json()
        .items.map((v: { version: number; changedBy: string; origin: string }) => [v.version, v.changedBy, v.origin]),
    ).toEqual([
      [4, 'pems-user-4', 'pems'],
      [3, 'pems-user-3', 'pems'],
      [2, 'pems-user-2', 'pems'],
      [1, 'pems-user-1', 'pems'],
    ]);
    expect(hist.json().items[0].pemsUpdatedAt).toBe(pfaRecord(org.id, 'x', 4).updatedAt);
    const page = await call(h, org.reader, 'GET', `/organizations/${org.id}/pfas/PFA-HIST/history?limit=2`);
    expect(page.json().nextBeforeVersion).toBe(3);

    const preview = await call(
      h,
      org.reader,
      'GET',
      `/organizations/${org.id}/pfas/PFA-HIST/rollback-preview?version=1`,
    );
    expect(preview.statusCode).toBe(200);
    expect(preview.json()).toEqual({
      organizationId: org.id,
      pfaId: 'PFA-HIST',
      currentVersion: 4,
      targetVersion: 1,
      changes: [
        { field: 'monthlyRate', before: 6500, after: 5000 },
        { field: 'notes', before: 'second', after: 'first' },
      ],
      previewHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(
      (await call(h, org.reader, 'GET', `/organizations/${org.id}/pfas/PFA-HIST/rollback-preview?version=99`))
        .statusCode,
    ).toBe(404);
    expect((await call(h, other.admin1, 'GET', `/organizations/${org.id}/pfas/PFA-HIST/history`)).statusCode).toBe(404);
  });

  it('when requested and approved by a different admin, then a committed rollback modification with the old values on the current version, audited; the requester approving is refused', async () => {
    await seed('PFA-RB');
    const noReason = await call(h, org.syncer, 'POST', `/organizations/${org.id}/pfas/PFA-RB/rollbacks`, {
      targetVersion: 1,
    });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().fieldErrors[0].field).toBe('reason');
    const byReader = await call(h, org.reader, 'POST', `/organizations/${org.id}/pfas/PFA-RB/rollbacks`, {
      targetVersion: 1,
      reason: 'x',
    });
    expect(byReader.statusCode).toBe(403);

    const created = await call(h, org.admin1, 'POST', `/organizations/${org.id}/pfas/PFA-RB/rollbacks`, {
      targetVersion: 2,
      reason: 'notes edit was wrong',
    });
    expect(created.statusCode).toBe(201);
    const req = created.json();
    expect(req).toMatchObject({
      status: 'pending',
      targetVersion: 2,
      fromVersion: 4,
      requestedBy: org.admin1,
      preview: [{ field: 'notes', before: 'second', after: 'first' }],
    });

    // Four eyes: the requesting admin cannot approve, and nothing is written.
    expect((await call(h, org.admin2, 'POST', `/rollbacks/${req.id}/approve`, {})).statusCode).toBe(400); // previewHash is required
    const seen = { previewHash: req.previewHash as string };
    const self = await call(h, org.admin1, 'POST', `/rollbacks/${req.id}/approve`, seen);
    expect(self.statusCode).toBe(403);
    expect(self.json().error).toBe('FOUR_EYES_REQUIRED');
    expect(self.json().message).toMatch(/other than the one who requested/);
    // A perm_Sync member who is not an admin cannot approve either.
    expect((await call(h, org.syncer, 'POST', `/rollbacks/${req.id}/approve`, seen)).statusCode).toBe(403);
    // Nor can an admin of another organization see it.
    expect((await call(h, other.admin1, 'POST', `/rollbacks/${req.id}/approve`, seen)).statusCode).toBe(404);
    expect(await h.db('pfa_modification').where({ organization_id: org.id, pfa_id: 'PFA-RB' })).toHaveLength(0);
    // The database refuses it too.
    await expect(
      h.db('rollback_request').where({ id: req.id }).update({ status: 'approved', decided_by: org.admin1 }),
    ).rejects.toThrow(/rollback_request_four_eyes/);

    // A hash of some other diff is not an approval of this one.
    const wrongHash = await call(h, org.admin2, 'POST', `/rollbacks/${req.id}/approve`, {
      previewHash: 'f'.repeat(64),
    });
    expect(wrongHash.statusCode).toBe(409);
    expect(wrongHash.json().error).toBe('PREVIEW_MISMATCH');
    const ok = await call(h, org.admin2, 'POST', `/rollbacks/${req.id}/approve`, {
      ...seen,
      reason: 'checked with the site',
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ baseVersion: 4, delta: { notes: 'first' } });
    const mods = await h.db('pfa_modification').where({ organization_id: org.id, pfa_id: 'PFA-RB' });
    expect(mods).toHaveLength(1);
    expect(mods[0]).toMatchObject({
      id: ok.json().modificationId,
      origin: 'rollback',
      sync_status: 'committed',
      base_version: 4,
      delta: { notes: 'first' },
      user_id: org.admin1,
      operation: 'update',
    });
    expect(mods[0].committed_at).not.toBeNull();
    expect(await h.db('rollback_request').where({ id: req.id }).first()).toMatchObject({
      status: 'approved',
      decided_by: org.admin2,
      modification_id: mods[0].id,
      decision_reason: 'checked with the site',
    });
    const audit = await h.db('audit_log').where({ organization_id: org.id, pfa_id: 'PFA-RB' }).orderBy('id');
    expect(audit.map((a) => [a.event_type, a.actor])).toEqual([
      ['rollback.requested', org.admin1],
      ['rollback.approved', org.admin2],
    ]);
    expect(audit[1].modification_id).toBe(mods[0].id);

    const twice = await call(h, org.admin2, 'POST', `/rollbacks/${req.id}/approve`, seen);
    expect(twice.statusCode).toBe(409);
    expect(twice.json().error).toBe('ROLLBACK_NOT_PENDING');
  });

  it('when rejected with a reason, then the request is rejected, nothing is written, and it is audited', async () => {
    await seed('PFA-REJ');
    const created = await call(h, org.syncer, 'POST', `/organizations/${org.id}/pfas/PFA-REJ/rollbacks`, {
      targetVersion: 1,
      reason: 'undo the rate',
    });
    const id = created.json().id;
    expect((await call(h, org.admin1, 'POST', `/rollbacks/${id}/reject`, {})).statusCode).toBe(400);
    const res = await call(h, org.admin1, 'POST', `/rollbacks/${id}/reject`, { reason: 'the rate change was agreed' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'rejected',
      decidedBy: org.admin1,
      decisionReason: 'the rate change was agreed',
    });
    expect(await h.db('pfa_modification').where({ organization_id: org.id, pfa_id: 'PFA-REJ' })).toHaveLength(0);
    const audit = await h
      .db('audit_log')
      .where({ organization_id: org.id, pfa_id: 'PFA-REJ', event_type: 'rollback.rejected' });
    expect(audit).toHaveLength(1);
    const list = await call(h, org.reader, 'GET', `/rollbacks?organization=${org.id}&status=rejected&pfaId=PFA-REJ`);
    expect(list.json().items.map((r: { id: string }) => r.id)).toEqual([id]);
  });

  it('when the target version holds the current values already, then the request is refused (nothing to roll back)', async () => {
    await seed('PFA-SAME');
    const res = await call(h, org.syncer, 'POST', `/organizations/${org.id}/pfas/PFA-SAME/rollbacks`, {
      targetVersion: 4,
      reason: 'noop',
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toBe('NOTHING_TO_ROLL_BACK');
  });
});
