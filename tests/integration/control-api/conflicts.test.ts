import { appendAudit } from '../../../connectors/postgres/audit';
import {
  call,
  createOrg,
  harness,
  pfaRecord,
  seedConflict,
  seedVersions,
  tableCounts,
  type Harness,
  type TestOrg,
} from './harness';

/** Conflicts through the control API against the real Postgres (rows seeded the way the sink writes them). */
describe('control API: conflicts', () => {
  let h: Harness;
  let org: TestOrg;
  let other: TestOrg;

  beforeAll(async () => {
    h = await harness();
    org = await createOrg(h.db, 'CFL');
    other = await createOrg(h.db, 'CFLX');
  });
  afterAll(async () => {
    await h.close();
  });

  /** PEMS at v7 moved forecastEnd (user had v5 as base and changed forecastEnd and notes). */
  async function seedTypical(pfaId: string): Promise<{ conflictId: string; modificationId: string }> {
    await seedVersions(h.db, [
      pfaRecord(org.id, pfaId, 5, { forecastEnd: '2026-06-30', notes: 'n' }),
      pfaRecord(org.id, pfaId, 7, { forecastEnd: '2026-08-31', notes: 'n', description: 'pems changed this' }),
    ]);
    return seedConflict(h.db, {
      org: org.id,
      pfaId,
      userId: org.syncer,
      delta: { forecastEnd: '2026-07-31', notes: 'slip' },
      baseVersion: 5,
      pemsVersion: 7,
      fields: [{ field: 'forecastEnd', base: '2026-06-30', local: '2026-07-31', pems: '2026-08-31' }],
      autoMerge: ['notes'],
    });
  }

  async function modifications(pfaId: string): Promise<Array<Record<string, any>>> {
    return h.db('pfa_modification').where({ organization_id: org.id, pfa_id: pfaId }).orderBy('created_at');
  }

  it('when listed and opened, then each conflicting field shows base, local and PEMS values and the auto-merge fields', async () => {
    const { conflictId, modificationId } = await seedTypical('PFA-LIST');
    const list = await call(
      h,
      org.reader,
      'GET',
      `/conflicts?organization=${org.id}&status=open&pfaId=PFA-LIST&userId=${org.syncer}`,
    );
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((c: { id: string }) => c.id)).toEqual([conflictId]);

    const detail = await call(h, org.reader, 'GET', `/conflicts/${conflictId}`);
    expect(detail.statusCode).toBe(200);
    expect(detail.json()).toMatchObject({
      id: conflictId,
      organizationId: org.id,
      pfaId: 'PFA-LIST',
      modificationId,
      baseVersion: 5,
      pemsVersion: 7,
      status: 'open',
      fields: [{ field: 'forecastEnd', base: '2026-06-30', local: '2026-07-31', pems: '2026-08-31' }],
      autoMergeFields: ['notes'],
      modification: { userId: org.syncer, syncStatus: 'conflict', delta: { forecastEnd: '2026-07-31', notes: 'slip' } },
    });
    const future = await call(h, org.reader, 'GET', `/conflicts?organization=${org.id}&since=2999-01-01T00:00:00Z`);
    expect(future.json().items).toEqual([]);
  });

  it("when resolved with use_local, then a committed modification on PEMS's version carries the user's values, the old one is superseded, the conflict resolved, and it is audited", async () => {
    const { conflictId, modificationId } = await seedTypical('PFA-LOCAL');
    const res = await call(h, org.admin1, 'POST', `/conflicts/${conflictId}/resolve`, {
      resolution: 'use_local',
      reason: 'the slip is real',
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.conflict).toMatchObject({ status: 'resolved', resolution: 'use_local', resolvedBy: org.admin1 });
    const [old, created] = await modifications('PFA-LOCAL');
    expect(old).toMatchObject({ id: modificationId, sync_status: 'superseded' });
    expect(created).toMatchObject({
      id: body.modification.id,
      origin: 'conflict_resolution',
      supersedes_id: modificationId,
      base_version: 7,
      delta: { forecastEnd: '2026-07-31', notes: 'slip' },
      user_id: org.admin1,
      sync_status: 'committed',
      change_reason: 'the slip is real',
    });
    expect(created!.committed_at).not.toBeNull();
    const conflict = await h.db('sync_conflict').where({ id: conflictId }).first();
    expect(conflict).toMatchObject({
      status: 'resolved',
      resolution: 'use_local',
      resolved_by: org.admin1,
      resolution_modification_id: created!.id,
    });
    const audit = await h
      .db('audit_log')
      .where({ organization_id: org.id, event_type: 'conflict.resolved', pfa_id: 'PFA-LOCAL' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: org.admin1, modification_id: created!.id });
    expect(audit[0].details).toMatchObject({
      conflictId,
      resolution: 'use_local',
      supersededModificationId: modificationId,
      baseVersion: 7,
    });

    const again = await call(h, org.admin1, 'POST', `/conflicts/${conflictId}/resolve`, { resolution: 'use_pems' });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toBe('CONFLICT_NOT_OPEN');
  });

  it('when resolved with use_pems, then only the non-conflicting changes are written; with nothing left, no modification is created', async () => {
    const { conflictId, modificationId } = await seedTypical('PFA-PEMS');
    const res = await call(h, org.syncer, 'POST', `/conflicts/${conflictId}/resolve`, { resolution: 'use_pems' });
    expect(res.statusCode).toBe(200);
    const [, created] = await modifications('PFA-PEMS');
    expect(created).toMatchObject({
      delta: { notes: 'slip' },
      base_version: 7,
      origin: 'conflict_resolution',
      supersedes_id: modificationId,
    });

    await seedVersions(h.db, [pfaRecord(org.id, 'PFA-PEMS2', 3), pfaRecord(org.id, 'PFA-PEMS2', 4, { dor: 'BEO' })]);
    const only = await seedConflict(h.db, {
      org: org.id,
      pfaId: 'PFA-PEMS2',
      userId: org.syncer,
      delta: { dor: 'PROJECT' },
      baseVersion: 3,
      pemsVersion: 4,
      fields: [{ field: 'dor', base: 'PROJECT', local: 'PROJECT', pems: 'BEO' }],
    });
    const res2 = await call(h, org.syncer, 'POST', `/conflicts/${only.conflictId}/resolve`, { resolution: 'use_pems' });
    expect(res2.statusCode).toBe(200);
    expect(res2.json().modification).toBeNull();
    const rows = await modifications('PFA-PEMS2');
    expect(rows.map((r) => r.sync_status)).toEqual(['superseded']);
    expect(await h.db('sync_conflict').where({ id: only.conflictId }).first()).toMatchObject({
      status: 'resolved',
      resolution: 'use_pems',
      resolution_modification_id: null,
    });
  });

  it("when resolved with merge, then the caller's values are validated and written with the other changes", async () => {
    const { conflictId } = await seedTypical('PFA-MERGE');
    const missing = await call(h, org.syncer, 'POST', `/conflicts/${conflictId}/resolve`, {
      resolution: 'merge',
      values: {},
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error).toBe('RESOLUTION_INVALID');
    const extra = await call(h, org.syncer, 'POST', `/conflicts/${conflictId}/resolve`, {
      resolution: 'merge',
      values: { forecastEnd: '2026-09-30', dor: 'BEO' },
    });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().message).toContain('dor');
    const owned = await call(h, org.syncer, 'POST', `/conflicts/${conflictId}/resolve`, {
      resolution: 'merge',
      values: { model: 'X' },
    });
    expect(owned.statusCode).toBe(400);
    expect(owned.json().fieldErrors[0]).toMatchObject({ field: 'model', code: 'FIELD_NOT_EDITABLE' });
    const beforeStart = await call(h, org.syncer, 'POST', `/conflicts/${conflictId}/resolve`, {
      resolution: 'merge',
      values: { forecastEnd: '2025-01-01' },
    });
    expect(beforeStart.statusCode).toBe(400);
    expect(beforeStart.json().fieldErrors[0].field).toBe('forecastEnd');
    expect((await modifications('PFA-MERGE')).map((r) => r.sync_status)).toEqual(['conflict']);

    const ok = await call(h, org.syncer, 'POST', `/conflicts/${conflictId}/resolve`, {
      resolution: 'merge',
      values: { forecastEnd: '2026-09-30' },
    });
    expect(ok.statusCode).toBe(200);
    const [, created] = await modifications('PFA-MERGE');
    expect(created).toMatchObject({
      delta: { forecastEnd: '2026-09-30', notes: 'slip' },
      base_version: 7,
      sync_status: 'committed',
    });
  });

  it('when a reader without perm_Sync resolves, then 403 and nothing changes', async () => {
    const { conflictId } = await seedTypical('PFA-RO');
    const res = await call(h, org.reader, 'POST', `/conflicts/${conflictId}/resolve`, { resolution: 'use_local' });
    expect(res.statusCode).toBe(403);
    expect(await h.db('sync_conflict').where({ id: conflictId }).first()).toMatchObject({ status: 'open' });
  });

  it("when another organization's user asks for or resolves the conflict, then 404 and no leak", async () => {
    const { conflictId } = await seedTypical('PFA-XORG');
    for (const [method, url, payload] of [
      ['GET', `/conflicts/${conflictId}`, undefined],
      ['POST', `/conflicts/${conflictId}/resolve`, { resolution: 'use_local' }],
    ] as const) {
      const res = await call(h, other.admin1, method, url, payload);
      expect(res.statusCode).toBe(404);
      expect(res.body).not.toContain('PFA-XORG');
    }
    const list = await call(h, other.admin1, 'GET', `/conflicts?organization=${org.id}`);
    expect(list.statusCode).toBe(404);
    const mine = await call(h, other.admin1, 'GET', '/conflicts');
    expect(mine.json().items).toEqual([]);
    expect(await h.db('sync_conflict').where({ id: conflictId }).first()).toMatchObject({ status: 'open' });
  });

  it('when a body has an unknown field or an id is an injection string, then 400 naming it and the tables are untouched', async () => {
    const { conflictId } = await seedTypical('PFA-INJ');
    await appendAudit(h.db, { organizationId: org.id, actor: 'system:test', eventType: 'test.marker' });
    const before = await tableCounts(h.db, org.id);
    const unknown = await call(h, org.admin1, 'POST', `/conflicts/${conflictId}/resolve`, {
      resolution: 'use_local',
      sneaky: 1,
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().fieldErrors[0].field).toBe('sneaky');
    expect(unknown.json().message).toContain('sneaky');

    const injection = encodeURIComponent("x'; DROP TABLE audit_log; --");
    for (const url of [
      `/conflicts/${injection}`,
      `/conflicts?pfaId=${injection}`,
      `/conflicts?organization=${injection}`,
      `/organizations/${org.id}/pfas/${injection}/history`,
      `/audit?actor=${injection}`,
    ]) {
      const res = await call(h, org.admin1, 'GET', url);
      expect(res.statusCode).toBe(400);
    }
    const post = await call(h, org.admin1, 'POST', `/conflicts/${injection}/resolve`, { resolution: 'use_local' });
    expect(post.statusCode).toBe(400);
    const badQuery = await call(h, org.admin1, 'GET', `/conflicts?organization=${org.id}&orderBy=1`);
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json().fieldErrors[0].field).toBe('orderBy');
    expect(await tableCounts(h.db, org.id)).toEqual(before);
    expect(await h.db('sync_conflict').where({ id: conflictId }).first()).toMatchObject({ status: 'open' });
  });

  it('when there is no token, a bad signature, or a token for no known user, then 401', async () => {
    expect((await call(h, null, 'GET', '/conflicts')).statusCode).toBe(401);
    const { token } = await import('./harness');
    const forged = await token(org.admin1, 'another-secret-another-secret-0123456789');
    expect(
      (await call(h, null, 'GET', '/conflicts', undefined, { authorization: `Bearer ${forged}` })).statusCode,
    ).toBe(401);
    expect((await call(h, 'nobody-at-all', 'GET', '/conflicts')).statusCode).toBe(401);
  });
});
