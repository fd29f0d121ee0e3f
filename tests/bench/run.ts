/**
 * `npm run bench`: drains backlogs of committed modifications through the real stack
 * (Postgres → Debezium → Kafka → sink process → PEMS simulator) and reports wall time,
 * modifications/s, commit-to-PEMS latency, the most PEMS requests in any second and the sink's
 * peak RSS. A benchmark, not a test: it asserts nothing, it measures.
 *
 *   BENCH_SIZES=1000,10000  BENCH_LIMITS=10,0   (0 = the simulator's rate limit off)
 *   BENCH_OUT=reports/bench.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { batchRequests, commitBacklog, latency, setupOrg, spawnSink, waitTerminal } from './setup';

const sizes = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const limits = (process.env.BENCH_LIMITS ?? '10,0').split(',').map(Number);
const out = process.env.BENCH_OUT ?? 'reports/bench.json';

interface Result {
  modifications: number;
  rateLimit: number;
  wallSeconds: number;
  perSecond: number;
  /** From the first outcome to the last: the steady-state rate, without process start-up. */
  drainSeconds: number;
  drainPerSecond: number;
  latencyP50: number;
  latencyP95: number;
  latencyP99: number;
  maxRequestsPerSecond: number;
  batchRequests: number;
  peakRssMiB: number;
  outcomes: Record<string, number>;
}

async function scenario(n: number, limit: number): Promise<Result> {
  const b = await setupOrg({ records: n, rateLimit: limit });
  // The backlog: every modification committed before the sink starts.
  await commitBacklog(b, (_r, i) => ({ notes: `bench ${i}` }));
  const started = Date.now();
  const sink = spawnSink(b, { PEMS_SYNC_PEMS_RATE_LIMIT: String(limit) });
  await waitTerminal(b, n);
  const wall = (Date.now() - started) / 1000;
  await sink.stop();
  const l = await latency(b);
  const result: Result = {
    modifications: n,
    rateLimit: limit,
    wallSeconds: Number(wall.toFixed(2)),
    perSecond: Math.round(n / wall),
    drainSeconds: l.drainSeconds,
    drainPerSecond: Math.round((n - 1) / l.drainSeconds),
    latencyP50: l.p50,
    latencyP95: l.p95,
    latencyP99: l.p99,
    maxRequestsPerSecond: b.sim.control.stats().maxRequestsPerSecond[b.org] ?? 0,
    batchRequests: batchRequests(b),
    peakRssMiB: sink.peakRssMiB(),
    outcomes: l.outcomes,
  };
  await b.close();
  return result;
}

async function main(): Promise<void> {
  const results: Result[] = [];
  for (const limit of limits) {
    for (const n of sizes) {
      const r = await scenario(n, limit);
      console.log(JSON.stringify(r));
      results.push(r);
    }
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), results }, null, 2));
  console.log('\n| backlog | PEMS limit | wall s (incl. start) | mods/s | drain s | drain mods/s | p50 s | p95 s | p99 s | max req/s | batch requests | peak RSS MiB |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.modifications} | ${r.rateLimit || 'off'} | ${r.wallSeconds} | ${r.perSecond} | ${r.drainSeconds} | ${r.drainPerSecond} | ${r.latencyP50} | ${r.latencyP95} | ${r.latencyP99} | ${r.maxRequestsPerSecond} | ${r.batchRequests} | ${r.peakRssMiB} |`);
  }
  console.log(`\nwritten to ${out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
