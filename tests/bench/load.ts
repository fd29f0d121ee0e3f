/**
 * `npm run bench:load` — the load benchmark of issue 7, through the real stack:
 *   1. users: LOAD_USERS (100) people committing edits for LOAD_DURATION_S (300) at a realistic
 *      rate (one edit every LOAD_THINK_S = 10 s each, on average), PEMS users editing the same
 *      records meanwhile, 1% transient PEMS faults: success rate, commit→PEMS latency, conflicts.
 *   2. backlog: LOAD_BACKLOG (10,000) modifications at the contract's limit with 1, 2 and 3 sink
 *      instances sharing it: drain time against the ceiling (10 requests/s × 100 items).
 *   3. baseline: the original plan (a database queue polled every 60 s, one PUT per record at
 *      10/s) against pems-sync on the same LOAD_BASELINE (1,000) backlog; the ratio.
 * Writes reports/load.json and prints a markdown table. Measures; asserts nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { drainAsOriginalPlan } from './original-plan';
import { batchRequests, buildSink, commitBacklog, latency, setupOrg, spawnSink, waitTerminal } from './setup';

const env = (k: string, d: number): number => Number(process.env[k] ?? d);
const USERS = env('LOAD_USERS', 100);
const DURATION_S = env('LOAD_DURATION_S', 300);
const THINK_S = env('LOAD_THINK_S', 10);
const BACKLOG = env('LOAD_BACKLOG', 10_000);
const BASELINE = env('LOAD_BASELINE', 1_000);
const INSTANCES = (process.env.LOAD_INSTANCES ?? '1,2,3').split(',').map(Number);
const PARTS = (process.env.LOAD_PARTS ?? 'users,backlog,baseline').split(',');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function users(): Promise<Record<string, unknown>> {
  const b = await setupOrg({ records: 2000, rateLimit: 10, users: USERS, prefix: 'LU' });
  b.sim.control.setFaults({ errorRates: { 503: 0.01 } });
  const sink = spawnSink(b);
  await sleep(3000); // the sink joins its group
  const started = Date.now();
  let committed = 0;
  let pemsEdits = 0;
  const until = started + DURATION_S * 1000;
  // Each user: exponential think time, then an edit of one of "their" records (users share some).
  const userLoop = async (u: string, i: number): Promise<void> => {
    while (Date.now() < until) {
      await sleep(-Math.log(1 - Math.random()) * THINK_S * 1000);
      if (Date.now() >= until) return;
      const r = b.records[(i * 13 + Math.floor(Math.random() * 40)) % b.records.length]!;
      const mirror = await b.db('pfa_mirror').where({ organization_id: b.org, pfa_id: r.pfaId }).first('version');
      await b.db('pfa_modification').insert({
        organization_id: b.org,
        pfa_id: r.pfaId,
        user_id: u,
        delta: JSON.stringify({ notes: `${u} ${Date.now()}`, monthlyRate: 1000 + (i % 50) * 10 }),
        base_version: mirror.version,
        sync_status: 'committed',
        committed_at: new Date(),
      });
      committed += 1;
    }
  };
  const pemsLoop = async (): Promise<void> => {
    while (Date.now() < until) {
      await sleep(2000);
      const r = b.records[Math.floor(Math.random() * b.records.length)]!;
      b.sim.control.editAsPemsUser(
        r.pfaId,
        Math.random() < 0.5 ? { description: `PEMS ${Date.now()}` } : { notes: `PEMS ${Date.now()}` },
      );
      pemsEdits += 1;
    }
  };
  await Promise.all([...b.users.map((u, i) => userLoop(u, i)), pemsLoop()]);
  await waitTerminal(b, committed, 300_000);
  await sink.stop();
  const l = await latency(b);
  const synced = l.outcomes.synced ?? 0;
  const result = {
    part: 'users',
    users: USERS,
    durationSeconds: DURATION_S,
    committed,
    pemsUserEdits: pemsEdits,
    successRate: Number((synced / committed).toFixed(4)),
    conflicts: l.outcomes.conflict ?? 0,
    failed: l.outcomes.failed ?? 0,
    outcomes: l.outcomes,
    latencyP50: l.p50,
    latencyP95: l.p95,
    latencyP99: l.p99,
    maxRequestsPerSecond: b.sim.control.stats().maxRequestsPerSecond[b.org] ?? 0,
    batchRequests: batchRequests(b),
    peakRssMiB: sink.peakRssMiB(),
  };
  await b.close();
  return result;
}

async function backlog(instances: number): Promise<Record<string, unknown>> {
  const b = await setupOrg({ records: BACKLOG, rateLimit: 10, prefix: `LB${instances}` });
  await commitBacklog(b, (_r, i) => ({ notes: `backlog ${i}` }));
  const started = Date.now();
  const sinks = Array.from({ length: instances }, () => spawnSink(b));
  await waitTerminal(b, BACKLOG);
  const wall = (Date.now() - started) / 1000;
  await Promise.all(sinks.map((s) => s.stop()));
  const l = await latency(b);
  const ceiling = BACKLOG / 1000; // 10 requests/s × 100 items
  const result = {
    part: 'backlog',
    instances,
    modifications: BACKLOG,
    wallSeconds: Number(wall.toFixed(2)),
    drainSeconds: l.drainSeconds,
    drainPerSecond: Math.round(BACKLOG / l.drainSeconds),
    ceilingSeconds: ceiling,
    ofCeiling: Number((ceiling / l.drainSeconds).toFixed(3)),
    maxRequestsPerSecond: b.sim.control.stats().maxRequestsPerSecond[b.org] ?? 0,
    batchRequests: batchRequests(b),
    peakRssMiB: Math.max(...sinks.map((s) => s.peakRssMiB())),
    outcomes: l.outcomes,
  };
  await b.close();
  return result;
}

async function baseline(): Promise<Record<string, unknown>> {
  const ours = await setupOrg({ records: BASELINE, rateLimit: 10, prefix: 'LO' });
  await commitBacklog(ours, (_r, i) => ({ notes: `same workload ${i}` }));
  const t0 = Date.now();
  const sink = spawnSink(ours);
  await waitTerminal(ours, BASELINE);
  const oursWall = (Date.now() - t0) / 1000;
  await sink.stop();
  const lo = await latency(ours);
  await ours.close();

  // The baseline's organization is not synced by pems-sync (no sink takes it): the plan's own worker does.
  const base = await setupOrg({ records: BASELINE, rateLimit: 10, prefix: 'LP' });
  await commitBacklog(base, (_r, i) => ({ notes: `same workload ${i}` }));
  const baseWall = await drainAsOriginalPlan(base, BASELINE);
  const lb = await latency(base);
  const requests = Object.values(base.sim.control.stats().requests['PUT /pfa/{id}'] ?? {}).reduce((a, n) => a + n, 0);
  await base.close();
  return {
    part: 'baseline',
    modifications: BASELINE,
    pemsSync: { wallSeconds: Number(oursWall.toFixed(2)), latencyP50: lo.p50, latencyP95: lo.p95 },
    originalPlan: {
      wallSeconds: Number(baseWall.toFixed(2)),
      latencyP50: lb.p50,
      latencyP95: lb.p95,
      putRequests: requests,
    },
    speedup: Number((baseWall / oursWall).toFixed(1)),
  };
}

async function main(): Promise<void> {
  buildSink(); // the sink runs compiled, as deployed (setup.ts spawnSink)
  const results: Array<Record<string, unknown>> = [];
  const log = (r: Record<string, unknown>): void => {
    console.log(JSON.stringify(r));
    results.push(r);
  };
  if (PARTS.includes('users')) log(await users());
  if (PARTS.includes('backlog')) for (const n of INSTANCES) log(await backlog(n));
  if (PARTS.includes('baseline')) log(await baseline());
  mkdirSync('reports', { recursive: true });
  writeFileSync('reports/load.json', JSON.stringify({ at: new Date().toISOString(), results }, null, 2));
  console.log('\n| part | result |\n|---|---|');
  for (const r of results)
    console.log(`| ${r.part} | ${JSON.stringify({ ...r, part: undefined, outcomes: undefined })} |`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
