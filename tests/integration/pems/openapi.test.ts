import { EDITABLE_FIELDS, PEMS_OWNED_FIELDS, SYSTEM_FIELDS } from '../../../streams/pfa-record';
import type { PemsSimulator } from '../../../connectors/pems-simulator';
import { authHeaders, org, raw, simulator, type Org, type RawResponse } from './harness';
import { contractErrors, pemsOpenApi, schemaErrors } from './openapi';

/**
 * The simulator against the project's own PEMS contract (schemas/openapi/pems-api.json): every
 * answer it gives, success or error, must be one the document allows, with the body the document
 * describes for that status. The client (connectors/pems/client.ts) is written against the same
 * document, so a drift between the two shows here first.
 */
describe('PEMS simulator answers conform to schemas/openapi/pems-api.json', () => {
  const rio: Org = org('oario');
  const beo: Org = org('oabeo');
  let sim: PemsSimulator;
  let ids: string[];
  let beoId: string;
  let seq = 0;

  beforeAll(async () => {
    sim = await simulator([rio, beo], { maxBodyBytes: 64 * 1024 });
    ids = sim.control.seed({ organization: rio.organization, count: 20 });
    beoId = sim.control.seed({ organization: beo.organization, count: 1 })[0] as string;
  });
  afterAll(async () => {
    await sim.close();
  });

  const id = (i: number): string => ids[i] as string;
  const json = (v: unknown): string => JSON.stringify(v);
  const write = (pfaId: string, changes: Record<string, unknown>, version: number): Record<string, unknown> => ({
    organizationCode: rio.organization,
    changes,
    version,
    modifiedBy: 'contract-test',
  });

  /** Sends, then checks the answer against the document; returns it for further assertions. */
  async function conforming(
    docPath: string,
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string> = authHeaders(rio),
  ): Promise<RawResponse> {
    const res = await raw(sim, method.toUpperCase(), path, body === undefined ? undefined : json(body), headers);
    expect({ status: res.status, errors: contractErrors(docPath, method, res.status, res.body) }).toEqual({
      status: res.status,
      errors: [],
    });
    return res;
  }

  it('when the document lists the editable, PEMS-owned and bookkeeping fields, then they are the ones the code uses', () => {
    const changes = pemsOpenApi.components.schemas.EditableChanges as { properties: Record<string, unknown> };
    const record = pemsOpenApi.components.schemas.PfaRecord as {
      required: string[];
      properties: Record<string, unknown>;
    };
    expect(Object.keys(changes.properties).sort()).toEqual([...EDITABLE_FIELDS].sort());
    expect([...record.required].sort()).toEqual([...EDITABLE_FIELDS, ...PEMS_OWNED_FIELDS, ...SYSTEM_FIELDS].sort());
    expect(Object.keys(record.properties).sort()).toEqual([...record.required].sort());
  });

  it('when the checker is given an answer the document does not allow, then it says what is wrong', () => {
    const rec = sim.control.getRecord(id(0)) as unknown as Record<string, unknown>;
    const { version: _dropped, ...withoutVersion } = rec;
    expect(contractErrors('/pfa/{pfaId}', 'get', 200, withoutVersion).join(' ')).toMatch(/version/);
    expect(contractErrors('/pfa/{pfaId}', 'get', 200, { ...rec, dor: 'ELSEWHERE' }).join(' ')).toMatch(/dor/);
    expect(() => contractErrors('/pfa/{pfaId}', 'get', 418, {})).toThrow(/does not allow status 418/);
    expect(schemaErrors('EditableChanges', { class: 'Heavy Lift' }).length).toBeGreaterThan(0);
    expect(schemaErrors('BatchResult', { pfaId: 'X', status: 'updated' }).join(' ')).toMatch(/newVersion/);
  });

  it('when every seeded record is checked, then each is a PfaRecord of the document', () => {
    for (const pfaId of ids) expect(schemaErrors('PfaRecord', sim.control.getRecord(pfaId))).toEqual([]);
  });

  it('when health is asked with and without a credential, then 200 UP', async () => {
    await conforming('/health', 'get', '/health', undefined);
    await conforming('/health', 'get', '/health', undefined, {});
  });

  it('when one record is read, unknown, foreign or without a valid key, then 200, 404, 403 or 401 as documented', async () => {
    expect((await conforming('/pfa/{pfaId}', 'get', `/pfa/${id(0)}`, undefined)).status).toBe(200);
    expect((await conforming('/pfa/{pfaId}', 'get', '/pfa/PFA-NOPE', undefined)).status).toBe(404);
    expect([403, 404]).toContain((await conforming('/pfa/{pfaId}', 'get', `/pfa/${beoId}`, undefined)).status);
    const wrongKey = { ...authHeaders(rio), authorization: 'Bearer not-a-key' };
    expect((await conforming('/pfa/{pfaId}', 'get', `/pfa/${id(0)}`, undefined, wrongKey)).status).toBe(401);
  });

  it('when a PUT is applied, replayed, refused by a rule, on a PEMS-owned field, stale or reusing a key, then each answer is documented', async () => {
    const r = sim.control.getRecord(id(1)) as { version: number };
    const key = { ...authHeaders(rio), 'idempotency-key': `oa-${seq++}` };
    const ok = await conforming(
      '/pfa/{pfaId}',
      'put',
      `/pfa/${id(1)}`,
      write(id(1), { notes: 'contract' }, r.version),
      key,
    );
    expect(ok.status).toBe(200);
    const replay = await conforming(
      '/pfa/{pfaId}',
      'put',
      `/pfa/${id(1)}`,
      write(id(1), { notes: 'contract' }, r.version),
      key,
    );
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(
      (await conforming('/pfa/{pfaId}', 'put', `/pfa/${id(1)}`, write(id(1), { notes: 'other' }, r.version), key))
        .status,
    ).toBe(422);
    const v2 = (sim.control.getRecord(id(2)) as { version: number }).version;
    const invalid = await conforming(
      '/pfa/{pfaId}',
      'put',
      `/pfa/${id(2)}`,
      write(id(2), { forecastStart: '2027-05-01', forecastEnd: '2027-01-01' }, v2),
    );
    expect(invalid.status).toBe(400);
    const owned = await conforming('/pfa/{pfaId}', 'put', `/pfa/${id(2)}`, write(id(2), { class: 'Light' }, v2));
    expect(owned.body.error).toBe('FIELD_NOT_EDITABLE');
    sim.control.editAsPemsUser(id(3), { equipment: 'EQ-PEMS' });
    const v3 = (sim.control.getRecord(id(3)) as { version: number }).version;
    sim.control.editAsPemsUser(id(3), { equipment: 'EQ-PEMS-2' });
    const stale = await conforming('/pfa/{pfaId}', 'put', `/pfa/${id(3)}`, write(id(3), { equipment: 'EQ-MINE' }, v3));
    expect(stale.status).toBe(409);
    expect(stale.body.conflictingFields).toEqual(['equipment']);
    expect(
      (await conforming('/pfa/{pfaId}', 'put', '/pfa/PFA-NOPE', write('PFA-NOPE', { notes: 'x' }, 1))).status,
    ).toBe(404);
    expect(
      (await conforming('/pfa/{pfaId}', 'put', `/pfa/${id(4)}`, write(id(4), { notes: 'n'.repeat(70_000) }, 1))).status,
    ).toBe(413);
  });

  it('when a record is soft-deleted at its version and again at a stale one, then 200 and 409', async () => {
    const r = sim.control.getRecord(id(5)) as { version: number };
    const body = { modifiedBy: 'contract-test', reason: 'retired' };
    expect((await conforming('/pfa/{pfaId}', 'delete', `/pfa/${id(5)}?version=${r.version}`, body)).status).toBe(200);
    expect((await conforming('/pfa/{pfaId}', 'delete', `/pfa/${id(5)}?version=${r.version}`, body)).status).toBe(409);
    expect((await conforming('/pfa/{pfaId}', 'delete', `/pfa/${id(5)}`, body)).status).toBe(400);
  });

  it('when changes are listed in pages, with a bad limit or for another organization, then 200 pages, 400 and 403', async () => {
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const page = await conforming('/pfa', 'get', `/pfa?limit=7${q}`, undefined);
      cursor = page.body.nextCursor as string | null;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(3);
    expect((await conforming('/pfa', 'get', '/pfa?limit=501', undefined)).status).toBe(400);
    expect((await conforming('/pfa', 'get', `/pfa?organization=${beo.organization}`, undefined)).status).toBe(403);
  });

  it('when a batch mixes outcomes, is too large or has no items, then 200 with one documented result each, 413 and 400', async () => {
    const v = (i: number): number => (sim.control.getRecord(id(i)) as { version: number }).version;
    sim.control.editAsPemsUser(id(7), { notes: 'PEMS side' });
    const batch = await conforming('/pfa/batch', 'post', '/pfa/batch', {
      organizationCode: rio.organization,
      items: [
        {
          pfaId: id(6),
          changes: { notes: 'batch' },
          version: v(6),
          modifiedBy: 'contract-test',
          idempotencyKey: `oa-${seq++}`,
        },
        {
          pfaId: id(7),
          changes: { notes: 'mine' },
          version: 1,
          modifiedBy: 'contract-test',
          idempotencyKey: `oa-${seq++}`,
        },
        { pfaId: id(8), changes: { dor: 'ELSEWHERE' }, version: v(8), modifiedBy: 'contract-test' },
        { pfaId: 'PFA-NOPE', changes: { notes: 'x' }, version: 1, modifiedBy: 'contract-test' },
        { pfaId: beoId, changes: { notes: 'x' }, version: 1, modifiedBy: 'contract-test' },
        { pfaId: id(9), changes: { notes: 'x' }, modifiedBy: 'contract-test' },
      ],
    });
    expect((batch.body.results as Array<{ status: string }>).map((r) => r.status)).toEqual([
      'updated',
      'conflict',
      'invalid',
      'not_found',
      expect.stringMatching(/^(forbidden|not_found)$/),
      'invalid',
    ]);
    const items = Array.from({ length: 101 }, (_, i) => ({
      pfaId: id(i % 20),
      changes: { notes: 'x' },
      version: 1,
      modifiedBy: 'contract-test',
    }));
    expect(
      (await conforming('/pfa/batch', 'post', '/pfa/batch', { organizationCode: rio.organization, items })).status,
    ).toBe(413);
    expect((await conforming('/pfa/batch', 'post', '/pfa/batch', { organizationCode: rio.organization })).status).toBe(
      400,
    );
  });

  it('when the credential is over its rate or PEMS is unavailable, then 429 with Retry-After and 503 as documented', async () => {
    const limited = await simulator([rio], { rateLimitPerSecond: 1, rateLimitBurst: 1 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const res = await raw(limited, 'GET', '/health', undefined, authHeaders(rio));
        expect(contractErrors('/health', 'get', res.status, res.body)).toEqual([]);
        if (res.status === 429) expect(res.headers['retry-after']).toMatch(/^\d+$/);
        statuses.push(res.status);
      }
      expect(statuses).toContain(429);
    } finally {
      await limited.close();
    }
    sim.control.setFaults({ outage: { durationMs: 60_000, status: 503 } });
    try {
      expect((await conforming('/pfa/{pfaId}', 'get', `/pfa/${id(0)}`, undefined)).status).toBe(503);
      expect(
        (await conforming('/pfa/batch', 'post', '/pfa/batch', { organizationCode: rio.organization, items: [] }))
          .status,
      ).toBe(503);
    } finally {
      sim.control.clearFaults();
    }
  });
});
