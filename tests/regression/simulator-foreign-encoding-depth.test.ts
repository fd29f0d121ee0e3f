/**
 * Regression (issue 13, item 12, simulator part): the simulator answered another organization's
 * record with 403 "belongs to another organization" (an existence oracle), a bad percent-encoding
 * in the path was a 500, and a deeply nested body with an idempotency key made the fingerprint
 * recurse until the stack overflowed. Now: 404 like an unknown record, 400 naming the field, 400
 * naming the depth — and the simulator keeps serving.
 */
import type { PemsSimulator } from '../../connectors/pems-simulator';
import { authHeaders, org, raw, simulator, type Org } from '../integration/pems/harness';

describe('regression: the simulator gives nothing away and survives hostile input', () => {
  const rio: Org = org('rio');
  const beo: Org = org('beo');
  let sim: PemsSimulator;
  let rioId: string;
  let beoId: string;

  beforeAll(async () => {
    sim = await simulator([rio, beo]);
    [rioId] = sim.control.seed({ organization: rio.organization, count: 1 }) as [string];
    [beoId] = sim.control.seed({ organization: beo.organization, count: 1 }) as [string];
  });
  afterAll(async () => {
    await sim.close();
  });

  it('when RIO reads or writes a BEO record, then the answer is the one for an unknown record', async () => {
    const unknown = await raw(sim, 'GET', '/pfa/PFA-DOES-NOT-EXIST', undefined, authHeaders(rio));
    const foreign = await raw(sim, 'GET', `/pfa/${beoId}`, undefined, authHeaders(rio));
    expect(unknown.status).toBe(404);
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual({ ...unknown.body, message: `no PFA record ${beoId}` });
    const before = sim.control.getRecord(beoId);
    const body = JSON.stringify({
      organizationCode: rio.organization,
      changes: { notes: 'x' },
      version: before?.version ?? 1,
      modifiedBy: 'sync',
    });
    const put = await raw(sim, 'PUT', `/pfa/${beoId}`, body, {
      ...authHeaders(rio),
      'idempotency-key': 'k-foreign',
    });
    expect(put.status).toBe(404);
    expect(put.body.error).toBe('NOT_FOUND');
    const batch = await raw(
      sim,
      'POST',
      '/pfa/batch',
      JSON.stringify({
        organizationCode: rio.organization,
        items: [
          {
            pfaId: beoId,
            changes: { notes: 'x' },
            version: before?.version ?? 1,
            modifiedBy: 'sync',
            idempotencyKey: 'k-b1',
          },
          {
            pfaId: 'PFA-DOES-NOT-EXIST',
            changes: { notes: 'x' },
            version: 1,
            modifiedBy: 'sync',
            idempotencyKey: 'k-b2',
          },
        ],
      }),
      authHeaders(rio),
    );
    expect((batch.body.results as Array<{ status: string }>).map((r) => r.status)).toEqual(['not_found', 'not_found']);
    expect(sim.control.getRecord(beoId)).toEqual(before);
    // BEO itself still reads its record.
    expect((await raw(sim, 'GET', `/pfa/${beoId}`, undefined, authHeaders(beo))).status).toBe(200);
  });

  it('when the path has bad percent-encoding, then 400 naming pfaId; when a body is nested 10,000 deep with an idempotency key, then 400 naming the depth; the simulator keeps serving', async () => {
    for (const path of ['/pfa/%E0%A4%A', '/pfa/%zz', '/pfa/PFA%']) {
      const res = await raw(sim, 'GET', path, undefined, authHeaders(rio));
      expect([path, res.status, res.body.error]).toEqual([path, 400, 'VALIDATION_FAILED']);
      expect(JSON.stringify(res.body)).toContain('pfaId');
    }
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const put = await raw(
      sim,
      'PUT',
      `/pfa/${rioId}`,
      `{"organizationCode":"${rio.organization}","version":1,"modifiedBy":"sync","changes":{"notes":${deep}}}`,
      {
        ...authHeaders(rio),
        'idempotency-key': 'k-deep',
      },
    );
    expect(put.status).toBe(400);
    expect(String(put.body.message)).toMatch(/nested deeper than 32 levels/);
    const batch = await raw(
      sim,
      'POST',
      '/pfa/batch',
      `{"organizationCode":"${rio.organization}","items":[{"pfaId":"${rioId}","version":1,"modifiedBy":"sync","idempotencyKey":"k-deep-2","changes":{"notes":${deep}}}]}`,
      authHeaders(rio),
    );
    expect(batch.status).toBe(400);
    // Still serving, and a normal write goes through.
    expect((await raw(sim, 'GET', '/health', undefined, {})).status).toBe(200);
    const v = sim.control.getRecord(rioId)!.version;
    const ok = await raw(
      sim,
      'PUT',
      `/pfa/${rioId}`,
      JSON.stringify({
        organizationCode: rio.organization,
        changes: { notes: 'fine' },
        version: v,
        modifiedBy: 'sync',
      }),
      { ...authHeaders(rio), 'idempotency-key': 'k-ok' },
    );
    expect(ok.status).toBe(200);
  });
});
