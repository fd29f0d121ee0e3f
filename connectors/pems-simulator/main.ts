/**
 * `npm run pems-sim`: the simulator as a process, configured from the environment.
 *
 *   PEMS_SIM_PORT               TCP port (default 8443)
 *   PEMS_SIM_HOST               interface (default 127.0.0.1)
 *   PEMS_SIM_HTTP=1             serve plain http (local demos only)
 *   PEMS_SIM_TEST_MODE=1        enable the /__control surface
 *   PEMS_SIM_RATE_LIMIT         requests/s per credential, 0 = off (default 10)
 *   PEMS_SIM_SEED               records seeded per organization at start (default 0)
 *   PEMS_SIM_CREDENTIALS        JSON array [{apiKey, tenant, organization}]
 *   PEMS_SIM_CREDENTIALS_FILE   path of a JSON file with that array (used when the above is unset)
 *   PEMS_SIM_CERT_FILE          write the generated certificate (PEM) here, for clients to trust
 * Without credentials it serves one development credential per organization of
 * PEMS_SIM_ORGS (default RIO,BEO): apiKey `dev-<org>`, tenant `PEMS`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createLogger } from '../observability/logger';
import { startPemsSimulator, type SimulatorCredential } from './server';

function fail(key: string, message: string): never {
  process.stderr.write(`pems-sim: ${key}: ${message}\n`);
  process.exit(2);
}

function intEnv(key: string, fallback: number): number {
  const raw = process.env[key];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) fail(key, `must be a non-negative integer, got '${raw}'`);
  return Number(raw);
}

function credentials(): SimulatorCredential[] {
  let raw = process.env.PEMS_SIM_CREDENTIALS;
  let key = 'PEMS_SIM_CREDENTIALS';
  if (!raw && process.env.PEMS_SIM_CREDENTIALS_FILE) {
    key = 'PEMS_SIM_CREDENTIALS_FILE';
    try {
      raw = readFileSync(process.env.PEMS_SIM_CREDENTIALS_FILE, 'utf8');
    } catch (e) {
      fail(key, `cannot read: ${(e as Error).message}`);
    }
  }
  if (!raw) {
    const orgs = (process.env.PEMS_SIM_ORGS ?? 'RIO,BEO')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean);
    return orgs.map((organization) => ({ apiKey: `dev-${organization}`, tenant: 'PEMS', organization }));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    fail(key, `not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0)
    fail(key, 'must be a non-empty array of {apiKey, tenant, organization}');
  return parsed.map((c: unknown, i) => {
    const o = c as Record<string, unknown>;
    if (typeof o?.apiKey !== 'string' || typeof o.tenant !== 'string' || typeof o.organization !== 'string') {
      fail(key, `item ${i} needs string apiKey, tenant and organization`);
    }
    return { apiKey: o.apiKey, tenant: o.tenant, organization: o.organization };
  });
}

async function main(): Promise<void> {
  const creds = credentials();
  const sim = await startPemsSimulator({
    credentials: creds,
    port: intEnv('PEMS_SIM_PORT', 8443),
    host: process.env.PEMS_SIM_HOST ?? '127.0.0.1',
    http: process.env.PEMS_SIM_HTTP === '1',
    testMode: process.env.PEMS_SIM_TEST_MODE === '1',
    rateLimitPerSecond: intEnv('PEMS_SIM_RATE_LIMIT', 10),
    seedPerOrganization: intEnv('PEMS_SIM_SEED', 0),
  });
  if (sim.cert && process.env.PEMS_SIM_CERT_FILE) writeFileSync(process.env.PEMS_SIM_CERT_FILE, sim.cert);
  // Organizations only: api keys never reach a log.
  // The project's log format (ISO time, level names, the same base fields as every process).
  createLogger(process.env.PEMS_SYNC_LOG_LEVEL ?? 'info', { component: 'pems-simulator' }).info(
    { url: sim.url, organizations: creds.map((c) => c.organization), testMode: process.env.PEMS_SIM_TEST_MODE === '1' },
    'pems simulator listening',
  );
  const stop = (): void => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`pems-sim: failed to start: ${(e as Error).message}\n`);
  process.exit(1);
});
