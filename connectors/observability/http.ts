/**
 * The operations endpoints of a process (node:http, no framework):
 *   GET /healthz  liveness: 200 {status:'ok'} while the process is not wedged, else 503.
 *   GET /readyz   readiness: 200 when connected and a member of the consumer group, else 503;
 *                 the body carries every check so an operator sees which one failed.
 *   GET /metrics  the prom-client registry in the Prometheus text format.
 * Anything else is a 404 (405 for another method on a known path), always JSON.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { registerReadinessGauge } from './metrics';

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean | string>;
}

export interface OpsServerOptions {
  /** config http.host */
  host: string;
  /** config http.port; 0 picks a free port (read it back from the result). */
  port: number;
  registry: Registry;
  /** false when the process should be restarted (not crashed = true). */
  liveness: () => boolean;
  readiness: () => Readiness;
  /**
   * How long close() lets requests in progress finish before cutting their connections, ms.
   * Default 2000.
   */
  closeGraceMs?: number;
}

export interface OpsServer {
  /** The port actually bound. */
  port: number;
  /** Stops listening; idempotent (every call returns the same promise). */
  close(): Promise<void>;
}

/**
 * Set by close(). server.close() only drops sockets idle at that moment; a response finishing
 * later would keep its keep-alive socket (and close()) open until the grace timer, so responses
 * written while closing carry `Connection: close`.
 */
const closingServers = new WeakSet<http.Server>();

function connectionHeader(server: http.Server): Record<string, string> {
  return closingServers.has(server) ? { connection: 'close' } : {};
}

function sendJson(
  server: http.Server,
  res: http.ServerResponse,
  status: number,
  body: unknown,
  extraHeaders: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...connectionHeader(server),
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...extraHeaders,
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function handle(
  server: http.Server,
  opts: OpsServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const known = path === '/healthz' || path === '/readyz' || path === '/metrics';
  if (!known) return sendJson(server, res, 404, { error: 'not found', path });
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return sendJson(server, res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });

  switch (path) {
    case '/healthz': {
      let alive: boolean;
      try {
        alive = opts.liveness();
      } catch {
        alive = false;
      }
      return sendJson(server, res, alive ? 200 : 503, { status: alive ? 'ok' : 'unhealthy' });
    }
    case '/readyz': {
      let r: Readiness;
      try {
        r = opts.readiness();
      } catch (err) {
        r = { ready: false, checks: { readiness: `check threw: ${errorMessage(err)}` } };
      }
      return sendJson(server, res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', checks: r.checks });
    }
    default: {
      let text: string;
      try {
        text = await opts.registry.metrics();
      } catch (err) {
        return sendJson(server, res, 500, { error: `metrics collection failed: ${errorMessage(err)}` });
      }
      res.writeHead(200, {
        ...connectionHeader(server),
        'content-type': opts.registry.contentType,
        'content-length': Buffer.byteLength(text),
      });
      res.end(req.method === 'HEAD' ? undefined : text);
      return;
    }
  }
}

/** Starts the operations server; resolves once it listens. */
export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  registerReadinessGauge(opts.registry, () => opts.readiness().ready);
  const server: http.Server = http.createServer((req, res) => {
    handle(server, opts, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(server, res, 500, { error: errorMessage(err) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      closingServers.add(server);
      // Keep-alive clients (Prometheus, fetch) hold idle sockets that would keep close() pending;
      // close them now, and cut requests still running after the grace period.
      const timer = setTimeout(() => server.closeAllConnections(), opts.closeGraceMs ?? 2000);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    }));

  return { port, close };
}
