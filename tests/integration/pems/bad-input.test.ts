import type { PemsSimulator } from '../../../connectors/pems-simulator';
import { authHeaders, org, raw, simulator, type Org, type RawResponse } from './harness';

describe('bad input to the simulator: a 4xx naming the problem, never a crash', () => {
  const o: Org = org('bad');
  let sim: PemsSimulator;
  let id: string;
  let version: number;

  beforeAll(async () => {
    sim = await simulator([o]);
    const [first] = sim.control.seed({ count: 2 });
    id = first ?? '';
    version = sim.control.getRecord(id)?.version ?? 0;
  });

  afterAll(async () => {
    await sim.close();
  });

  afterEach(async () => {
    // Whatever came before, the simulator still answers and the record was never written.
    const health = await raw(sim, 'GET', '/health', undefined, {});
    expect(health.status).toBe(200);
    expect(sim.control.getRecord(id)?.version).toBe(version);
  });

  const put = (body: string | Buffer, headers: Record<string, string> = {}): Promise<RawResponse> =>
    raw(sim, 'PUT', `/pfa/${id}`, body, { ...authHeaders(o), ...headers });

  const valid = (patch: Record<string, unknown> = {}): Record<string, unknown> => ({
    organizationCode: o.organization,
    changes: { notes: 'x' },
    version,
    modifiedBy: 'sync',
    ...patch,
  });

  const fieldsOf = (res: RawResponse): string[] =>
    ((res.body.fieldErrors as Array<{ field: string }>) ?? []).map((f) => f.field).sort();

  it('when the body is malformed JSON, then 400 MALFORMED_JSON saying so', async () => {
    const res = await put('{"organizationCode": "X", ');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'MALFORMED_JSON' });
    expect(String(res.body.message)).toContain('not valid JSON');
  });

  it('when the body is over 1 MiB, then 413 PAYLOAD_TOO_LARGE naming the limit', async () => {
    const huge = JSON.stringify(valid({ changes: { notes: 'n'.repeat(2 * 1024 * 1024) } }));
    const res = await put(huge);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
    expect(String(res.body.message)).toContain('1048576');
  });

  it('when the body is empty, then 400 saying a body is required', async () => {
    const res = await put('');
    expect(res.status).toBe(400);
    expect(String(res.body.message)).toContain('body is required');
  });

  it('when the body is a JSON array, then 400 saying it must be an object', async () => {
    const res = await put('[1,2]');
    expect(res.status).toBe(400);
    expect(String(res.body.message)).toContain('JSON object');
  });

  it('when version is a string and modifiedBy is missing, then 400 naming both', async () => {
    const body = valid({ version: String(version) });
    delete body.modifiedBy;
    const res = await put(JSON.stringify(body));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('VALIDATION_FAILED');
    expect(fieldsOf(res)).toEqual(['modifiedBy', 'version']);
  });

  it('when changes is an array, then 400 naming changes', async () => {
    const res = await put(JSON.stringify(valid({ changes: ['notes'] })));
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['changes']);
  });

  it('when changes is empty, then 400 naming changes', async () => {
    const res = await put(JSON.stringify(valid({ changes: {} })));
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['changes']);
  });

  it('when a date is not a calendar date, then 400 naming the field', async () => {
    const res = await put(JSON.stringify(valid({ changes: { forecastStart: '2026-02-30' } })));
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['forecastStart']);
  });

  it('when organizationCode is missing, then 400 naming it', async () => {
    const body = valid();
    delete body.organizationCode;
    const res = await put(JSON.stringify(body));
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['organizationCode']);
  });

  it('when the Idempotency-Key is longer than 255 characters, then 400 naming the header', async () => {
    const res = await put(JSON.stringify(valid()), { 'idempotency-key': 'k'.repeat(300) });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['Idempotency-Key']);
  });

  it('when there is no Authorization header, then 401 UNAUTHORIZED', async () => {
    const res = await raw(sim, 'PUT', `/pfa/${id}`, JSON.stringify(valid()), {
      tenant: o.tenant,
      organization: o.organization,
    });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('UNAUTHORIZED');
  });

  it('when a batch has items that is not an array, then 400 naming items', async () => {
    const res = await raw(
      sim,
      'POST',
      '/pfa/batch',
      JSON.stringify({ organizationCode: o.organization, items: {} }),
      authHeaders(o),
    );
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['items']);
  });

  it('when a batch has 101 items, then 413 BATCH_TOO_LARGE', async () => {
    const items = Array.from({ length: 101 }, () => ({ pfaId: id, changes: { notes: 'x' }, version, modifiedBy: 's' }));
    const res = await raw(
      sim,
      'POST',
      '/pfa/batch',
      JSON.stringify({ organizationCode: o.organization, items }),
      authHeaders(o),
    );
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('BATCH_TOO_LARGE');
  });

  it('when one batch item is malformed, then only that item is invalid, naming its field', async () => {
    const items = [{ pfaId: id, changes: { notes: 'x' }, version: 'seven', modifiedBy: 's' }, 42];
    const res = await raw(
      sim,
      'POST',
      '/pfa/batch',
      JSON.stringify({ organizationCode: o.organization, items }),
      authHeaders(o),
    );
    expect(res.status).toBe(200);
    const results = res.body.results as Array<{ status: string; error: { fieldErrors: Array<{ field: string }> } }>;
    expect(results.map((r) => r.status)).toEqual(['invalid', 'invalid']);
    expect(results[0]?.error.fieldErrors.map((f) => f.field)).toEqual(['items[0].version']);
    expect(results[1]?.error.fieldErrors.map((f) => f.field)).toEqual(['items[1]']);
  });

  it('when DELETE has no version, then 400 naming version', async () => {
    const res = await raw(
      sim,
      'DELETE',
      `/pfa/${id}`,
      JSON.stringify({ modifiedBy: 's', reason: 'r' }),
      authHeaders(o),
    );
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['version']);
  });

  it('when updatedSince is not a timestamp, then 400 naming updatedSince', async () => {
    const res = await raw(sim, 'GET', '/pfa?updatedSince=yesterday', undefined, authHeaders(o));
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['updatedSince']);
  });

  it('when the cursor was not issued by the API, then 400 naming cursor', async () => {
    const res = await raw(sim, 'GET', '/pfa?cursor=bm90LWEtY3Vyc29y', undefined, authHeaders(o));
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['cursor']);
  });

  it('when the path is unknown, then 404 naming it', async () => {
    const res = await raw(sim, 'PATCH', `/pfa/${id}`, '{}', authHeaders(o));
    expect(res.status).toBe(404);
    expect(String(res.body.message)).toContain('PATCH');
  });
});
