/** Shared set-up for the PEMS contract tests: a simulator over real HTTPS and clients for it. */
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { startPemsSimulator, type PemsSimulator, type PemsSimulatorOptions } from '../../../connectors/pems-simulator';
import { InProcessRateLimiter, PemsClient, type PemsClientOptions } from '../../../connectors/pems';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Org {
  organization: string;
  apiKey: string;
  tenant: string;
}

/** A fresh organization per test file, so nothing collides with other suites. */
export function org(name: string): Org {
  const suffix = randomUUID().slice(0, 8);
  return { organization: `${name}${suffix}`.toUpperCase(), apiKey: `key-${name}-${randomUUID()}`, tenant: 'TEST' };
}

export async function simulator(orgs: Org[], options: Partial<PemsSimulatorOptions> = {}): Promise<PemsSimulator> {
  return startPemsSimulator({ port: 0, testMode: true, rateLimitPerSecond: 0, credentials: orgs, ...options });
}

export function clientFor(sim: PemsSimulator, o: Org, options: Partial<PemsClientOptions> = {}): PemsClient {
  return new PemsClient({
    baseUrl: sim.url,
    apiKey: o.apiKey,
    tenant: o.tenant,
    organization: o.organization,
    ca: sim.cert,
    retry: { retries: 0 },
    // The simulator's limit is off in most suites; a roomy limiter keeps them quick.
    rateLimiter: new InProcessRateLimiter({ credentialId: o.organization, limit: 10_000 }),
    ...options,
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** A request outside the client, for input the client would never send. */
export function raw(
  sim: PemsSimulator,
  method: string,
  path: string,
  body: string | Buffer | undefined,
  headers: Record<string, string>,
): Promise<RawResponse> {
  const url = new URL(sim.url + path);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: sim.cert,
        // Explicit length: Node sends DELETE bodies without framing otherwise.
        headers: {
          'content-type': 'application/json',
          ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
          ...headers,
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown>;
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            parsed = { raw: text };
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

export function authHeaders(o: Org): Record<string, string> {
  return { authorization: `Bearer ${o.apiKey}`, tenant: o.tenant, organization: o.organization };
}

/** Resolves the error a promise rejects with (fails the test if it resolves). */
export async function failure(
  p: Promise<unknown>,
): Promise<{ code: string; retriable: boolean; details: Record<string, unknown>; message: string; cause?: unknown }> {
  try {
    await p;
  } catch (e) {
    return e as never;
  }
  throw new Error('expected the call to fail');
}
