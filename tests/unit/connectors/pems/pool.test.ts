import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import {
  encryptCredential,
  MISSING_CREDENTIAL_KEYS,
  parseCredentialKeys,
  PemsClientPool,
} from '../../../../connectors/pems';

const ring = parseCredentialKeys(`p1:${randomBytes(32).toString('base64')}`);

describe('PEMS client pool', () => {
  let server: http.Server;
  let baseUrl: string;
  const auth: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      auth.push(String(req.headers.authorization));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"UP"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });
  afterAll(async () => new Promise<void>((r) => server.close(() => r())));

  const org = (key = 'key-1') => ({
    id: 'RIO',
    baseUrl,
    tenant: 'T',
    credentialEncrypted: encryptCredential(key, ring, 'RIO'),
  });

  it('when an organization is asked for twice with the same row, then one client serves both; a new credential builds a new one', async () => {
    const pool = new PemsClientPool({ keyRing: ring, allowInsecureHttp: true, rateLimitPerSecond: 0 });
    const first = org();
    const a = pool.clientFor(first);
    expect(pool.clientFor(first)).toBe(a);
    await a.health();
    const b = pool.clientFor(org('key-2'));
    expect(b).not.toBe(a);
    await b.health();
    expect(auth.slice(-2)).toEqual(['Bearer key-1', 'Bearer key-2']);
    await pool.close();
    await pool.close();
  });

  it('when the credential keys are missing, then no client is built and the reason names the setting', () => {
    const pool = new PemsClientPool({ keyRing: null });
    expect(pool.canDecrypt).toBe(false);
    expect(() => pool.clientFor(org())).toThrow(MISSING_CREDENTIAL_KEYS);
  });

  it('when the credential was encrypted for another organization, then clientFor refuses it', () => {
    const pool = new PemsClientPool({ keyRing: ring, allowInsecureHttp: true });
    expect(() => pool.clientFor({ ...org(), id: 'OTHER' })).toThrow();
  });

  it('when built from the config, then the limiter takes pems.rateLimitMarginMs and registers its metrics in the registry', async () => {
    const registry = new Registry();
    const config = {
      pems: {
        credentialKeys: `p1:${ring.keys.get('p1')!.toString('base64')}`,
        caFile: '',
        timeoutMs: 5000,
        allowInsecureHttp: true,
        allowedHosts: [],
        rateLimitPerSecond: 2,
        rateLimitMarginMs: 400,
      },
      redis: { url: '' },
    } as unknown as Parameters<typeof PemsClientPool.fromConfig>[0];
    const pool = PemsClientPool.fromConfig(config, { registry });
    const client = pool.clientFor(org());
    const started = Date.now();
    // Two requests per 1 s + 400 ms margin: the third waits for the stretched window.
    await client.health();
    await client.health();
    await client.health();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1300);
    expect((await registry.getMetricsAsJSON()).map((m) => m.name)).toContain('pems_sync_pems_rate_limit_wait_seconds');
    await pool.close();
  });
});
