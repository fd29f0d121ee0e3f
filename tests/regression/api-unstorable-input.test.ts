/**
 * Regression (issue 13, item 10): input that passed the schema but failed in Postgres answered
 * 500 — NUL bytes, lone surrogates, year 0000, ids above int8, cursors with such values. Each is
 * now a 400 naming the field, and the same request with good values still works.
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

const cursor = (key: Record<string, unknown>): string => Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');

describe('regression: values Postgres cannot take are 400s naming the field', () => {
  let h: Harness;
  let org: TestOrg;

  beforeAll(async () => {
    h = await harness();
    org = await createOrg(h.db, 'UNSTOR');
    await seedVersions(h.db, [
      pfaRecord(org.id, 'PFA-1', 1, { notes: 'one' }),
      pfaRecord(org.id, 'PFA-1', 2, { notes: 'two' }),
    ]);
  });
  afterAll(async () => {
    await h.close();
  });

  const expect400 = async (
    user: string,
    method: 'GET' | 'POST',
    path: string,
    field: string,
    body?: unknown,
  ): Promise<void> => {
    const res = await call(h, user, method, path, body);
    expect([path, res.statusCode]).toEqual([path, 400]);
    expect(res.json().error).toBe('VALIDATION_FAILED');
    expect(res.json().fieldErrors[0].field).toBe(field);
  };

  it('when a reason holds a NUL or a lone surrogate, a time is in year 0000, an id is above int8 or a cursor carries such values, then 400 naming the field', async () => {
    const rollbacks = `/organizations/${org.id}/pfas/PFA-1/rollbacks`;
    await expect400(org.syncer, 'POST', rollbacks, 'reason', { targetVersion: 1, reason: 'undo\u0000this' });
    await expect400(org.syncer, 'POST', rollbacks, 'reason', { targetVersion: 1, reason: 'undo \ud800 this' });
    await expect400(org.syncer, 'POST', rollbacks, 'reason', { targetVersion: 1, reason: 'undo \udc00' });
    await expect400(org.reader, 'GET', `/audit?organization=${org.id}&from=0000-01-01T00:00:00Z`, 'from');
    await expect400(org.reader, 'GET', `/conflicts?organization=${org.id}&since=0000-12-31T23:59:59Z`, 'since');
    await expect400(org.reader, 'POST', '/notifications/9223372036854775808/read', 'id');
    await expect400(org.reader, 'GET', `/audit?cursor=${cursor({ id: '9999999999999999999' })}`, 'cursor');
    await expect400(
      org.reader,
      'GET',
      `/rollbacks?cursor=${cursor({ t: '0000-01-01T00:00:00Z', id: '0b9f8a3e-3c1d-4a57-9a55-1f3f3f3f3f3f' })}`,
      'cursor',
    );
    await expect400(
      org.reader,
      'GET',
      `/dead-letters?cursor=${cursor({ t: 'Tue, 01 Dec 2026 10:00:00 GMT', id: '0b9f8a3e-3c1d-4a57-9a55-1f3f3f3f3f3f' })}`,
      'cursor',
    );
    await expect400(org.reader, 'GET', `/audit?organization=${org.id}&pfaId=PFA%001`, 'pfaId');

    // Nothing stored by the refused ones; good values go through.
    expect(await h.db('rollback_request').where({ organization_id: org.id })).toHaveLength(0);
    expect(
      (await call(h, org.syncer, 'POST', rollbacks, { targetVersion: 1, reason: 'undo this — ✓ 𝄞' })).statusCode,
    ).toBe(201);
    expect(
      (await call(h, org.reader, 'GET', `/audit?organization=${org.id}&from=0001-01-01T00:00:00Z`)).statusCode,
    ).toBe(200);
    expect((await call(h, org.reader, 'POST', '/notifications/9223372036854775807/read')).statusCode).toBe(404);
    expect(
      (await call(h, org.reader, 'GET', `/audit?cursor=${cursor({ id: '9223372036854775807' })}`)).statusCode,
    ).toBe(200);
  });
});
