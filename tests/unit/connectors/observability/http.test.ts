import http from 'node:http';
import { Registry } from 'prom-client';
import { startOpsServer, type OpsServer, type Readiness } from '../../../../connectors/observability/http';
import { createSinkMetrics } from '../../../../connectors/observability/metrics';

/** Fails the test instead of hanging when a promise never settles (the usual shutdown bug). */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

describe('startOpsServer', () => {
  let alive: boolean;
  let readiness: () => Readiness;
  let registry: Registry;
  let server: OpsServer;
  let base: string;

  beforeEach(async () => {
    alive = true;
    readiness = () => ({ ready: true, checks: { kafka: true, groupMember: true } });
    registry = new Registry();
    server = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      liveness: () => alive,
      readiness: () => readiness(),
    });
    base = `http://127.0.0.1:${server.port}`;
  });

  afterEach(async () => {
    await within(5000, server.close(), 'close');
  });

  it('when started on port 0, then it reports the port it bound', () => {
    expect(server.port).toBeGreaterThan(0);
  });

  it('when live, then GET /healthz is 200 {status: ok}', async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('when not live (or the check throws), then GET /healthz is 503', async () => {
    alive = false;
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unhealthy' });

    const throwing = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      liveness: () => {
        throw new Error('wedged');
      },
      readiness: () => ({ ready: true, checks: {} }),
    });
    try {
      expect((await fetch(`http://127.0.0.1:${throwing.port}/healthz`)).status).toBe(503);
    } finally {
      await throwing.close();
    }
  });

  it('when ready, then GET /readyz is 200 with the checks', async () => {
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { kafka: true, groupMember: true } });
  });

  it('when not ready, then GET /readyz is 503 and names the failing check', async () => {
    readiness = () => ({ ready: false, checks: { kafka: true, groupMember: 'waiting for partition assignment' } });
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'not ready',
      checks: { kafka: true, groupMember: 'waiting for partition assignment' },
    });
  });

  it('when the readiness check throws, then GET /readyz is 503 with the error, and the server keeps serving', async () => {
    readiness = () => {
      throw new Error('pool closed');
    };
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not ready', checks: { readiness: 'check threw: pool closed' } });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('when GET /metrics, then the registry is served in its content type', async () => {
    createSinkMetrics(registry).modifications.inc({ outcome: 'applied' }, 2);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(registry.contentType);
    const text = await res.text();
    expect(text).toContain('# TYPE pems_sync_modifications_total counter');
    expect(text).toContain('pems_sync_modifications_total{outcome="applied"} 2');
  });

  it('when a query string is added, then the path still matches', async () => {
    expect((await fetch(`${base}/healthz?probe=1`)).status).toBe(200);
  });

  it('when the path is unknown, then it is a JSON 404', async () => {
    const res = await fetch(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not found', path: '/nope' });
  });

  it('when a known path is called with another method, then it is a JSON 405 with Allow', async () => {
    const res = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(await res.json()).toEqual({ error: 'method not allowed' });
  });

  it('when HEAD /healthz, then the status comes without a body', async () => {
    const res = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('when close is called twice, then both calls return the same promise and the port stops answering', async () => {
    await fetch(`${base}/healthz`); // leaves a keep-alive socket open in fetch's pool
    const first = server.close();
    expect(server.close()).toBe(first);
    await within(5000, first, 'close with an idle keep-alive connection');
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('when a request is still running at close, then close waits for it within the grace period', async () => {
    const slow = new Registry();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    jest.spyOn(slow, 'metrics').mockImplementation(async () => {
      await gate;
      return 'slow_metric 1\n';
    });
    const s = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      registry: slow,
      liveness: () => true,
      readiness: () => ({ ready: true, checks: {} }),
    });
    const pending = fetch(`http://127.0.0.1:${s.port}/metrics`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 50)); // let the request reach the handler
    let closedYet = false;
    const closed = s.close().then(() => {
      closedYet = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(closedYet).toBe(false); // still draining the /metrics request
    release();
    expect(await pending).toBe('slow_metric 1\n');
    await within(5000, closed, 'close with a request in flight');
  });

  it('when a request hangs past the grace period, then close still resolves by cutting it', async () => {
    const hung = new Registry();
    jest.spyOn(hung, 'metrics').mockImplementation(() => new Promise<string>(() => undefined));
    const s = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      registry: hung,
      liveness: () => true,
      readiness: () => ({ ready: true, checks: {} }),
      closeGraceMs: 50,
    });
    const pending = fetch(`http://127.0.0.1:${s.port}/metrics`).then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((r) => setTimeout(r, 50));
    await within(5000, s.close(), 'close with a hung request');
    expect(await pending).toBe('cut');
  });

  it('when the port is taken, then start rejects with the listen error', async () => {
    await expect(
      startOpsServer({
        host: '127.0.0.1',
        port: server.port,
        registry,
        liveness: () => true,
        readiness: () => ({ ready: true, checks: {} }),
      }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('when collecting metrics fails, then /metrics is a JSON 500', async () => {
    jest.spyOn(registry, 'metrics').mockRejectedValue(new Error('collector broke'));
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'metrics collection failed: collector broke' });
  });

  it('when a raw client asks for an odd target (OPTIONS *), then the server answers 404 rather than crashing', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, method: 'OPTIONS', path: '*' }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(404);
  });
});
