/**
 * The PEMS simulator: the contract in schemas/openapi/pems-api.json served over node:https (node:http only
 * when asked), with a test-only control surface under /__control.
 *
 * http.ts holds the HTTP helpers, api.ts the API's handlers, control.ts the control surface.
 *
 * No framework on purpose: the hot path (auth, bucket, parse, validate, write) is a handful of
 * synchronous steps, which is what lets one core serve thousands of PUTs per second.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { errorCodeFor, FaultState, TokenBuckets, WindowCounter } from './faults';
import { makeRecords, PEMS_USERS } from './seed';
import { PemsStore } from './store';
import { createApiHandler } from './api';
import { createControlHandler } from './control';
import { BASE_PATH, discardBody, endpointOf, HttpError, readJsonBody, selfSignedCert } from './http';
import type { PemsSimulator, PemsSimulatorOptions, SimulatorControl, SimulatorCredential } from './types';

export type {
  PemsSimulator,
  PemsSimulatorOptions,
  SimulatorControl,
  SimulatorCredential,
  SimulatorStats,
} from './types';
export { BASE_PATH, selfSignedCert } from './http';

export async function startPemsSimulator(options: PemsSimulatorOptions): Promise<PemsSimulator> {
  const testMode = options.testMode ?? false;
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const rate = options.rateLimitPerSecond ?? 10;
  const byKey = new Map<string, SimulatorCredential>();
  for (const c of options.credentials) {
    if (!c.apiKey || !c.tenant || !c.organization)
      throw new Error('each simulator credential needs apiKey, tenant and organization');
    byKey.set(c.apiKey, c);
  }
  const organizations = [...new Set(options.credentials.map((c) => c.organization))];

  const store = new PemsStore();
  const faults = new FaultState();
  const buckets = new TokenBuckets(rate, options.rateLimitBurst ?? rate);
  const windows = new WindowCounter(1000);
  let requests: Record<string, Record<string, number>> = {};
  let rateLimited = 0;
  const nextId = new Map<string, number>();
  const hung = new Set<http.ServerResponse>();
  const sockets = new Set<Socket>();

  const count = (endpoint: string, status: string): void => {
    const e = (requests[endpoint] ??= {});
    e[status] = (e[status] ?? 0) + 1;
  };

  const seed = (opts: { organization?: string; count: number; seed?: number }): string[] => {
    const orgs = opts.organization ? [opts.organization] : organizations;
    const ids: string[] = [];
    for (const organization of orgs) {
      const startAt = nextId.get(organization) ?? 1;
      const recs = makeRecords({
        organization,
        count: opts.count,
        startAt,
        seed: opts.seed ?? startAt,
        updatedAt: () => store.stamp(),
      });
      nextId.set(organization, startAt + opts.count);
      for (const r of recs) {
        store.put(r);
        ids.push(r.pfaId);
      }
    }
    return ids;
  };

  const control: SimulatorControl = {
    seed,
    getRecord: (id) => store.get(id),
    putRecord: (r) => store.put(r),
    editAsPemsUser: (id, changes, user) =>
      store.editAsPemsUser(id, changes, user ?? PEMS_USERS[Math.floor(Math.random() * PEMS_USERS.length)] ?? 'jdoe'),
    childActivity: (id, n) => store.childActivity(id, n ?? 1),
    setFaults: (f) => faults.set(f),
    clearFaults: () => faults.clear(),
    stats: () => ({
      requests: structuredClone(requests),
      maxRequestsPerSecond: windows.maxByKey(),
      writesApplied: Object.fromEntries(store.writesApplied),
      idempotentReplays: store.idempotentReplays,
      rateLimited,
    }),
    writeLog: () => store.log.snapshot(),
    nextWrite: (ids) => store.log.nextWrite(ids),
    holdAfterApply: (spec) => store.log.setHold(spec),
    reset: () => {
      store.clear();
      faults.clear();
      buckets.clear();
      windows.clear();
      nextId.clear();
      requests = {};
      rateLimited = 0;
    },
  };

  if (options.seedPerOrganization) seed({ count: options.seedPerOrganization });

  const send = (
    res: http.ServerResponse,
    endpoint: string,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void => {
    count(endpoint, String(status));
    const payload = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      ...headers,
    });
    res.end(payload);
  };

  const readJson = (req: http.IncomingMessage, required: boolean): Promise<unknown> =>
    readJsonBody(req, required, maxBody);
  const handleApi = createApiHandler({ store, send, readJson });
  const handleControl = createControlHandler({ control, faults, store, send, readJson });

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const arrived = performance.now();
    let endpoint = 'unknown';
    const fail = (e: unknown): void => {
      if (res.headersSent || res.destroyed) return;
      if (e instanceof HttpError) {
        send(res, endpoint, e.status, e.body, discardBody(req));
      } else {
        send(res, endpoint, 500, { error: 'INTERNAL', message: 'simulator error' });
      }
    };
    try {
      const url = new URL(req.url ?? '/', 'http://simulator');
      const method = req.method ?? 'GET';
      if (testMode && (url.pathname === '/__control' || url.pathname.startsWith('/__control/'))) {
        endpoint = 'control';
        const segs = url.pathname.slice('/__control'.length).split('/').filter(Boolean);
        handleControl(req, res, segs).catch(fail);
        return;
      }
      if (url.pathname !== BASE_PATH && !url.pathname.startsWith(`${BASE_PATH}/`)) {
        throw new HttpError(404, { error: 'NOT_FOUND', message: `no endpoint ${method} ${url.pathname}` });
      }
      const segments = url.pathname.slice(BASE_PATH.length).split('/').filter(Boolean);
      endpoint = endpointOf(method, segments);

      const auth = req.headers.authorization;
      const apiKey = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
      const cred = apiKey === undefined ? undefined : byKey.get(apiKey);
      // Every request a credential sends is seen, whatever its fate: this is what PEMS ops watch.
      if (cred) windows.hit(cred.organization, arrived);

      const fault = faults.decide(endpoint);
      const proceed = (): void => {
        if (fault.action === 'reset') {
          count(endpoint, 'reset');
          req.socket.destroy();
          return;
        }
        if (fault.action === 'hang') {
          count(endpoint, 'hung');
          hung.add(res);
          res.on('close', () => hung.delete(res));
          return;
        }
        if (fault.action === 'error') {
          if (fault.status === 429) {
            // An injected 429 looks like the real one: RATE_LIMITED with a Retry-After (seconds).
            throw new HttpError(429, { error: 'RATE_LIMITED', message: 'injected 429' }, 1);
          }
          throw new HttpError(fault.status, { error: errorCodeFor(fault.status), message: `injected ${fault.status}` });
        }
        if (endpoint === 'GET /health' && !cred) {
          send(res, endpoint, 200, { status: 'UP' });
          return;
        }
        if (!cred) throw new HttpError(401, { error: 'UNAUTHORIZED', message: 'missing or unknown bearer credential' });
        if (req.headers.tenant !== cred.tenant || req.headers.organization !== cred.organization) {
          throw new HttpError(401, {
            error: 'UNAUTHORIZED',
            message: 'tenant and organization headers must match the credential',
          });
        }
        const waitMs = buckets.take(cred.organization, arrived);
        if (waitMs > 0) {
          rateLimited += 1;
          throw new HttpError(
            429,
            { error: 'RATE_LIMITED', message: 'more than the allowed requests per second' },
            Math.max(1, Math.ceil(waitMs / 1000)),
          );
        }
        handleApi(req, res, url, endpoint, segments, cred).catch(fail);
      };
      const run = (): void => {
        try {
          proceed();
        } catch (e) {
          if (e instanceof HttpError && e.status === 429) {
            const retryAfter = e.retryAfter ?? 1;
            if (!res.headersSent)
              send(res, endpoint, 429, e.body, { 'retry-after': String(retryAfter), ...discardBody(req) });
            return;
          }
          fail(e);
        }
      };
      if (fault.delayMs > 0) setTimeout(run, fault.delayMs);
      else run();
    } catch (e) {
      fail(e);
    }
  };

  const tlsPair = options.http ? undefined : (options.tls ?? selfSignedCert());
  const server: http.Server = tlsPair
    ? https.createServer({ key: tlsPair.key, cert: tlsPair.cert }, onRequest)
    : http.createServer(onRequest);
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // A bad TLS handshake or garbage bytes must never take the process down.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.on('tlsClientError', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8443, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8443);
  const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : '127.0.0.1';

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      for (const r of hung) r.destroy();
      server.close(() => resolve());
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
    });
    return closing;
  };

  return {
    url: `${tlsPair ? 'https' : 'http'}://${host}:${port}${BASE_PATH}`,
    port,
    cert: tlsPair?.cert,
    control,
    store,
    close,
  };
}
