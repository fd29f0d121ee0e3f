/**
 * Throughput of the PEMS simulator over HTTPS keep-alive, rate limit off.
 * Goals (issue 3): >= 20,000 record updates/s through POST /pfa/batch and >= 2,000 single
 * PUT/s on a 2-core box. The simulator runs as its own process (as in the stack), the load
 * generator here. Run: npx tsx tests/bench/pems-simulator.bench.ts
 */
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';

const PORT = 18000 + Math.floor(Math.random() * 1000);
const RECORDS = 20_000;
const DURATION_MS = Number(process.env.BENCH_MS ?? 5000);
const certFile = path.join(mkdtempSync(path.join(tmpdir(), 'pems-bench-')), 'cert.pem');

function request(agent: https.Agent, method: string, p: string, body: unknown): Promise<{ status: number; json: any }> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: PORT,
        method,
        path: `/api/pems${p}`,
        agent,
        headers: {
          authorization: 'Bearer dev-RIO',
          tenant: 'PEMS',
          organization: 'RIO',
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function main(): Promise<void> {
  // tsx directly (not npx) so killing the child stops the simulator itself.
  const child = spawn(process.execPath, ['--import', 'tsx', 'connectors/pems-simulator/main.ts'], {
    env: {
      ...process.env,
      PEMS_SIM_PORT: String(PORT),
      PEMS_SIM_RATE_LIMIT: '0',
      PEMS_SIM_SEED: String(RECORDS),
      PEMS_SIM_ORGS: 'RIO',
      PEMS_SIM_CERT_FILE: certFile,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  childRef = child;
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
  );
  const ca = readFileSync(certFile);
  const versions = new Map<string, number>();
  const ids = Array.from({ length: RECORDS }, (_, i) => `PFA-RIO-${String(i + 1).padStart(6, '0')}`);

  // Learn versions once through the list endpoint.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca });
  let cursor: string | null = null;
  do {
    const q: string = `/pfa?limit=500${cursor ? `&cursor=${cursor}` : ''}`;
    const { json } = await request(agent, 'GET', q, undefined);
    for (const r of json.records) versions.set(r.pfaId, r.version);
    cursor = json.nextCursor;
  } while (cursor);

  // Single PUTs: 64 workers, each on its own slice of records so versions never conflict.
  {
    let ok = 0;
    let other = 0;
    const end = Date.now() + DURATION_MS;
    const workers = Array.from({ length: 64 }, async (_, w) => {
      let i = w;
      while (Date.now() < end) {
        const id = ids[i % ids.length] ?? '';
        i += 64;
        const v = versions.get(id) ?? 0;
        const res = await request(agent, 'PUT', `/pfa/${id}`, {
          organizationCode: 'RIO',
          changes: { notes: `n${i}` },
          version: v,
          modifiedBy: 'bench',
        });
        if (res.status === 200) {
          ok += 1;
          versions.set(id, res.json.newVersion);
        } else other += 1;
      }
    });
    await Promise.all(workers);
    console.log(`single PUT: ${Math.round((ok / DURATION_MS) * 1000)} updates/s (${ok} ok, ${other} not ok)`);
  }

  // Batches of 100: 8 workers.
  {
    let ok = 0;
    let other = 0;
    const end = Date.now() + DURATION_MS;
    const workers = Array.from({ length: 8 }, async (_, w) => {
      let start = w * 100;
      while (Date.now() < end) {
        const items = Array.from({ length: 100 }, (_, k) => {
          const id = ids[(start + k) % ids.length] ?? '';
          return { pfaId: id, changes: { notes: `b${start}` }, version: versions.get(id) ?? 0, modifiedBy: 'bench' };
        });
        start += 800;
        const res = await request(agent, 'POST', '/pfa/batch', { organizationCode: 'RIO', items });
        for (const r of res.json.results ?? []) {
          if (r.status === 'updated') {
            ok += 1;
            versions.set(r.pfaId, r.newVersion);
          } else other += 1;
        }
      }
    });
    await Promise.all(workers);
    console.log(`batch: ${Math.round((ok / DURATION_MS) * 1000)} record updates/s (${ok} ok, ${other} not ok)`);
  }
  agent.destroy();
  child.kill('SIGTERM');
}

let childRef: { kill(sig?: NodeJS.Signals): boolean } | undefined;
process.on('exit', () => childRef?.kill('SIGKILL'));

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
