/**
 * Regression (issue 13, item 7): four-eyes approval was not bound to what the approver saw. The
 * diff was recomputed at approval, so a preview of one field became a write of three after PEMS
 * moved. An approval now carries the request's previewHash; when the record moved, 409 and
 * nothing is written, and a new request on the new version is approved as shown.
 */
import {
  call,
  createOrg,
  harness,
  pfaRecord,
  seedVersions,
  type Harness,
  type TestOrg,
} from '../integration/control-api/harness';

describe('regression: a rollback approval writes exactly what the approver saw', () => {
  let h: Harness;
  let org: TestOrg;

  beforeAll(async () => {
    h = await harness();
    org = await createOrg(h.db, 'RB4EYES');
  });
  afterAll(async () => {
    await h.close();
  });

  it('when PEMS changes two more fields between request and approval, then the approval is 409 ROLLBACK_STALE and nothing is written; the new request is approved as shown', async () => {
    await seedVersions(h.db, [
      pfaRecord(org.id, 'PFA-1', 1, { monthlyRate: 5000, notes: 'first', equipment: 'CR-1' }),
      pfaRecord(org.id, 'PFA-1', 2, { monthlyRate: 5000, notes: 'second', equipment: 'CR-1' }),
    ]);
    const created = await call(h, org.admin1, 'POST', `/organizations/${org.id}/pfas/PFA-1/rollbacks`, {
      targetVersion: 1,
      reason: 'undo notes',
    });
    expect(created.statusCode).toBe(201);
    const request = created.json();
    // What the approver is shown: one field.
    const shown = await call(h, org.admin2, 'GET', `/rollbacks/${request.id}`);
    expect(shown.json().preview).toEqual([{ field: 'notes', before: 'second', after: 'first' }]);
    const previewHash = shown.json().previewHash as string;

    // PEMS moves: two more fields differ from version 1 now.
    await seedVersions(h.db, [
      pfaRecord(org.id, 'PFA-1', 3, { monthlyRate: 9900, notes: 'second', equipment: 'CR-9' }),
    ]);
    const stale = await call(h, org.admin2, 'POST', `/rollbacks/${request.id}/approve`, { previewHash });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ error: 'ROLLBACK_STALE' });
    expect(stale.json().message).toMatch(/version 2 then, 3 now/);
    expect(await h.db('pfa_modification').where({ organization_id: org.id, pfa_id: 'PFA-1' })).toHaveLength(0);
    expect(await h.db('rollback_request').where({ id: request.id }).first()).toMatchObject({
      status: 'pending',
      modification_id: null,
    });

    // Asked again on version 3, the preview shows all three fields; that approval writes them.
    const again = (
      await call(h, org.admin1, 'POST', `/organizations/${org.id}/pfas/PFA-1/rollbacks`, {
        targetVersion: 1,
        reason: 'undo all of it',
      })
    ).json();
    expect(again.preview.map((c: { field: string }) => c.field).sort()).toEqual(['equipment', 'monthlyRate', 'notes']);
    expect((await call(h, org.admin2, 'POST', `/rollbacks/${again.id}/approve`, { previewHash })).json().error).toBe(
      'PREVIEW_MISMATCH',
    );
    const ok = await call(h, org.admin2, 'POST', `/rollbacks/${again.id}/approve`, { previewHash: again.previewHash });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({
      baseVersion: 3,
      delta: { notes: 'first', monthlyRate: 5000, equipment: 'CR-1' },
    });
  });
});
