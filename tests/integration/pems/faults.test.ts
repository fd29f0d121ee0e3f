import { idempotencyKeyFor, PemsClient, InProcessRateLimiter } from '../../../connectors/pems';
import { startPemsSimulator, type PemsSimulator } from '../../../connectors/pems-simulator';
import { clientFor, failure, org, raw, simulator, type Org } from './harness';

describe('faults injected by the simulator, seen through the client', () => {
  const o: Org = org('flt');
  let sim: PemsSimulator;
  let ids: string[];
  const clients: PemsClient[] = [];
  const client = (opts: Parameters<typeof clientFor>[2] = {}): PemsClient => {
    const c = clientFor(sim, o, opts);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    sim = await simulator([o]);
  });

  beforeEach(() => {
    sim.control.reset();
    ids = sim.control.seed({ count: 3 });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sim.close();
  });

  const id = (): string => ids[0] ?? '';

  it('when a request hangs past the client timeout, then PEMS_SYNC_PEMS_TRANSIENT, retriable', async () => {
    sim.control.setFaults({ hang: { count: 1 } });
    const e = await failure(client({ timeoutMs: 150 }).getRecord(id()));
    expect(e).toMatchObject({
      code: 'PEMS_SYNC_PEMS_TRANSIENT',
      retriable: true,
      details: { errorCode: 'ECONNABORTED' },
    });
    expect(sim.control.stats().requests['GET /pfa/{id}']).toEqual({ hung: 1 });
  });

  it('when the connection is reset, then a write fails with PEMS_SYNC_PEMS_TRANSIENT and nothing is written', async () => {
    sim.control.setFaults({ reset: { count: 1 } });
    const r = sim.control.getRecord(id());
    const e = await failure(
      client().updateRecord(
        id(),
        { changes: { notes: 'x' }, version: r?.version ?? 0, modifiedBy: 'sync' },
        { idempotencyKey: idempotencyKeyFor(['reset-1']) },
      ),
    );
    expect(e).toMatchObject({ code: 'PEMS_SYNC_PEMS_TRANSIENT', retriable: true });
    expect(sim.control.stats().writesApplied[id()]).toBeUndefined();
  });

  it('when a keyed write hits a reset and retries are on, then the client resends once and the write lands once', async () => {
    sim.control.setFaults({ reset: { count: 1 }, endpoints: ['PUT /pfa/{id}'] });
    const r = sim.control.getRecord(id());
    const res = await client({ retry: { retries: 2, baseDelayMs: 1 } }).updateRecord(
      id(),
      { changes: { notes: 'after reset' }, version: r?.version ?? 0, modifiedBy: 'sync' },
      { idempotencyKey: idempotencyKeyFor(['reset-2']) },
    );
    expect(res.newVersion).toBe((r?.version ?? 0) + 1);
    expect(sim.control.stats().requests['PUT /pfa/{id}']).toEqual({ reset: 1, '200': 1 });
    expect(sim.control.stats().writesApplied[id()]).toBe(1);
  });

  it('when PEMS answers 503, then a GET is retried by the client and a write is not', async () => {
    sim.control.setFaults({ errorRates: { 503: 1 } });
    const c = client({ retry: { retries: 2, baseDelayMs: 1 } });
    const getErr = await failure(c.getRecord(id()));
    expect(getErr).toMatchObject({ code: 'PEMS_SYNC_PEMS_TRANSIENT', details: { status: 503, error: 'UNAVAILABLE' } });
    const putErr = await failure(
      c.updateRecord(
        id(),
        { changes: { notes: 'x' }, version: 1, modifiedBy: 'sync' },
        { idempotencyKey: idempotencyKeyFor(['503']) },
      ),
    );
    expect(putErr).toMatchObject({ code: 'PEMS_SYNC_PEMS_TRANSIENT', retriable: true });
    const stats = sim.control.stats().requests;
    expect(stats['GET /pfa/{id}']).toEqual({ '503': 3 });
    expect(stats['PUT /pfa/{id}']).toEqual({ '503': 1 });
  });

  it('when PEMS answers 500, then PEMS_SYNC_PEMS_TRANSIENT with error INTERNAL', async () => {
    sim.control.setFaults({ errorRates: { 500: 1 } });
    expect(await failure(client().health())).toMatchObject({
      code: 'PEMS_SYNC_PEMS_TRANSIENT',
      details: { status: 500, error: 'INTERNAL' },
    });
  });

  it('when an outage window of resets is on, then calls fail TRANSIENT until the faults are cleared', async () => {
    sim.control.setFaults({ outage: { durationMs: 60_000, mode: 'reset' } });
    const c = client();
    expect(await failure(c.getRecord(id()))).toMatchObject({ code: 'PEMS_SYNC_PEMS_TRANSIENT' });
    expect(await failure(c.getRecord(id()))).toMatchObject({ code: 'PEMS_SYNC_PEMS_TRANSIENT' });
    sim.control.clearFaults();
    await expect(c.getRecord(id())).resolves.toMatchObject({ pfaId: id() });
    expect(sim.control.stats().requests['GET /pfa/{id}']).toEqual({ reset: 2, '200': 1 });
  });

  it('when an outage window of 503s is on, then every endpoint answers 503', async () => {
    sim.control.setFaults({ outage: { durationMs: 60_000 } });
    const c = client();
    expect(await failure(c.health())).toMatchObject({ details: { status: 503 } });
    expect(await failure(c.listChanged())).toMatchObject({ details: { status: 503 } });
  });

  it('when latency is injected, then the request still succeeds', async () => {
    sim.control.setFaults({ latency: { kind: 'uniform', minMs: 10, maxMs: 30 } });
    await expect(client().getRecord(id())).resolves.toMatchObject({ pfaId: id() });
  });

  it('when nothing listens on the port, then PEMS_SYNC_PEMS_TRANSIENT (ECONNREFUSED)', async () => {
    const gone = await startPemsSimulator({ port: 0, credentials: [o] });
    const url = gone.url;
    const cert = gone.cert;
    await gone.close();
    const c = new PemsClient({
      baseUrl: url,
      apiKey: o.apiKey,
      tenant: o.tenant,
      organization: o.organization,
      ca: cert,
      retry: { retries: 0 },
      rateLimiter: new InProcessRateLimiter({ credentialId: 'refused', limit: 100 }),
    });
    clients.push(c);
    expect(await failure(c.health())).toMatchObject({
      code: 'PEMS_SYNC_PEMS_TRANSIENT',
      details: { errorCode: 'ECONNREFUSED' },
    });
  });

  it('when the certificate is not trusted, then the client refuses to talk (not a transient)', async () => {
    const c = clientFor(sim, o, { ca: undefined });
    clients.push(c);
    const e = await failure(c.health());
    expect(e.code).toBe('PEMS_SYNC_PEMS_UNEXPECTED');
    expect(e.retriable).toBe(false);
  });

  it('when faults are set over the control surface, then they apply and stats report them', async () => {
    const base = sim.url.replace(/\/api\/pems$/, '');
    const put = await fetchJson(`${base}/__control/faults`, 'PUT', { errorRates: { 502: 1 } });
    expect(put.status).toBe(200);
    expect(await failure(client().health())).toMatchObject({ details: { status: 502 } });
    const bad = await fetchJson(`${base}/__control/faults`, 'PUT', { errorRates: { 200: 1 } });
    expect(bad).toMatchObject({ status: 400 });
    expect(String(bad.body.message)).toContain('errorRates');
    await fetchJson(`${base}/__control/faults`, 'DELETE');
    const stats = await fetchJson(`${base}/__control/stats`, 'GET');
    expect(stats.body).toMatchObject({ requests: { 'GET /health': { '502': 1 } } });
  });

  it('when records are seeded, edited and bumped over the control surface, then the API shows it', async () => {
    const base = sim.url.replace(/\/api\/pems$/, '');
    const seeded = await fetchJson(`${base}/__control/seed`, 'POST', { organization: o.organization, count: 2 });
    const [pfaId] = seeded.body.pfaIds as string[];
    const before = sim.control.getRecord(pfaId ?? '');
    const edited = await fetchJson(`${base}/__control/records/${pfaId}/edit`, 'POST', {
      changes: { notes: 'site edit' },
      user: 'mchen',
    });
    expect(edited.body).toMatchObject({ notes: 'site edit', updatedBy: 'mchen', version: (before?.version ?? 0) + 1 });
    const bumped = await fetchJson(`${base}/__control/records/${pfaId}/child-activity`, 'POST', { count: 3 });
    expect(bumped.body).toMatchObject({ notes: 'site edit', version: (before?.version ?? 0) + 4 });
    await expect(client().getRecord(pfaId ?? '')).resolves.toMatchObject({ version: (before?.version ?? 0) + 4 });
    const reset = await fetchJson(`${base}/__control/reset`, 'POST', {});
    expect(reset.status).toBe(200);
    expect(sim.control.getRecord(pfaId ?? '')).toBeUndefined();
  });

  async function fetchJson(
    url: string,
    method: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const u = new URL(url);
    const res = await raw(
      { ...sim, url: `${u.protocol}//${u.host}` },
      method,
      u.pathname,
      body === undefined ? undefined : JSON.stringify(body),
      {},
    );
    return { status: res.status, body: res.body };
  }
});

describe('a simulator started without test mode', () => {
  it('when the control surface is asked for, then it does not exist', async () => {
    const o = org('prod');
    const sim = await startPemsSimulator({ port: 0, credentials: [o] });
    try {
      const res = await raw(
        { ...sim, url: sim.url.replace(/\/api\/pems$/, '') },
        'GET',
        '/__control/stats',
        undefined,
        {},
      );
      expect(res.status).toBe(404);
    } finally {
      await sim.close();
    }
  });
});
