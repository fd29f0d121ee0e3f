/**
 * `npm run bench`: the workloads of issue 16's table side by side in one run, through the real
 * stack (Postgres → Debezium → Kafka → sink process → PEMS simulator). A benchmark, not a test:
 * it asserts nothing, it measures. Per workload: commit→PEMS acknowledged and commit→result
 * percentiles over every modification, the per-stage breakdown (stages.ts), CDC events per
 * modification, CPU per modification per process (cpu.ts), the most PEMS requests in any
 * second and the sink's peak RSS.
 *
 *   BENCH_WORKLOADS=steady100,steady10,faults100,backlog,plan   (default: all of them)
 *   BENCH_DURATION_S=300   how long the steady workloads commit (the issue's 5 minutes)
 *   BENCH_BACKLOG=10000    the backlog drained with the PEMS limit off
 *   BENCH_PLAN_BACKLOG=1000  the backlog of the original plan vs pems-sync comparison
 *   BENCH_OUT=reports/bench.json
 * Sink settings under test come from the environment as usual (PEMS_SYNC_*); Debezium's from
 * the connector config (connectors/debezium/pfa-modification.json).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cpuPerModification, cpuSample } from './cpu';
import { drainAsOriginalPlan } from './original-plan';
import { batchRequests, commitBacklog, latency, setupOrg, spawnSink, waitTerminal, type BenchOrg } from './setup';
import { stageReport, stageTable, type StageReport } from './stages';

const env = (k: string, d: number): number => Number(process.env[k] ?? d);
const workloads = (process.env.BENCH_WORKLOADS ?? 'steady100,steady10,faults100,backlog,plan').split(',');
const DURATION_S = env('BENCH_DURATION_S', 300);
const BACKLOG = env('BENCH_BACKLOG', 10_000);
const PLAN_BACKLOG = env('BENCH_PLAN_BACKLOG', 1_000);
const out = process.env.BENCH_OUT ?? 'reports/bench.json';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Result {
  workload: string;
  modifications: number;
  rateLimit: number;
  /** From the first outcome to the last. */
  drainSeconds: number;
  drainPerSecond: number;
  /** commit → recorded (synced_at), the figure the earlier reports gave. */
  recordedP50: number;
  recordedP99: number;
  maxRequestsPerSecond: number;
  batchRequests: number;
  peakRssMiB: number;
  cpuMicrosPerModification: Record<string, number>;
  outcomes: Record<string, number>;
  stages: StageReport;
  uptimeBefore: string;
  uptimeAfter: string;
  extra?: Record<string, unknown>;
}

const uptime = (): string => readFileSync('/proc/loadavg', 'utf8').trim();

/** The sink joined and settled (module loading and the group join done): its CPU stops rising. */
async function settled(pid: number | undefined): Promise<void> {
  await sleep(3000);
  let last = cpuSample(pid ? [pid] : []).sink ?? 0;
  for (let i = 0; i < 40; i++) {
    await sleep(500);
    const now = cpuSample(pid ? [pid] : []).sink ?? 0;
    if (now - last < 0.03) return;
    last = now;
  }
}

async function measure(
  workload: string,
  b: BenchOrg,
  limit: number,
  sinkEnv: Record<string, string>,
  drive: () => Promise<number>,
  extra?: Record<string, unknown>,
): Promise<Result> {
  const uptimeBefore = uptime();
  const sink = spawnSink(b, { PEMS_SYNC_PEMS_RATE_LIMIT: String(limit), ...sinkEnv });
  await settled(sink.child.pid);
  const cpu0 = cpuSample(sink.child.pid ? [sink.child.pid] : []);
  const n = await drive();
  await waitTerminal(b, n);
  const cpu1 = cpuSample(sink.child.pid ? [sink.child.pid] : []);
  await sink.stop();
  const l = await latency(b);
  const stages = await stageReport(b, b.cdcStart);
  const recorded = await b.db.raw(
    `SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM synced_at - committed_at)) AS p
       FROM pfa_modification WHERE organization_id = ? AND sync_status = 'synced'`,
    [b.org],
  );
  const p = (recorded.rows[0].p ?? [0, 0]) as number[];
  const result: Result = {
    workload,
    modifications: n,
    rateLimit: limit,
    drainSeconds: l.drainSeconds,
    drainPerSecond: Math.round((n - 1) / l.drainSeconds),
    recordedP50: Number(Number(p[0]).toFixed(3)),
    recordedP99: Number(Number(p[1]).toFixed(3)),
    maxRequestsPerSecond: b.sim.control.stats().maxRequestsPerSecond[b.org] ?? 0,
    batchRequests: batchRequests(b),
    peakRssMiB: sink.peakRssMiB(),
    cpuMicrosPerModification: cpuPerModification(cpu0, cpu1, n),
    outcomes: l.outcomes,
    stages,
    uptimeBefore,
    uptimeAfter: uptime(),
    ...(extra ? { extra } : {}),
  };
  await b.close();
  return result;
}

/** Commits at `perSecond` (Poisson arrivals) for DURATION_S, each an edit of the next record at its mirror version. */
async function steady(b: BenchOrg, perSecond: number): Promise<number> {
  const until = Date.now() + DURATION_S * 1000;
  let committed = 0;
  let next = 0;
  const inFlight = new Set<Promise<void>>();
  let due = Date.now();
  while (Date.now() < until) {
    due += -Math.log(1 - Math.random()) * (1000 / perSecond);
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const r = b.records[next++ % b.records.length]!;
    const i = committed++;
    const p = (async () => {
      const mirror = await b.db('pfa_mirror').where({ organization_id: b.org, pfa_id: r.pfaId }).first('version');
      await b.db('pfa_modification').insert({
        organization_id: b.org,
        pfa_id: r.pfaId,
        user_id: b.users[i % b.users.length]!,
        delta: JSON.stringify({ notes: `steady ${i}`, monthlyRate: 1000 + (i % 50) * 10 }),
        base_version: mirror.version,
        sync_status: 'committed',
        committed_at: new Date(),
      });
    })();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  return committed;
}

async function steadyWorkload(name: string, perSecond: number, faults503: number): Promise<Result> {
  const b = await setupOrg({ records: 2000, rateLimit: 10, users: 100, prefix: 'S' });
  if (faults503 > 0) b.sim.control.setFaults({ errorRates: { 503: faults503 } });
  return measure(name, b, 10, {}, () => steady(b, perSecond), {
    commitsPerSecond: perSecond,
    durationSeconds: DURATION_S,
    injected503: faults503,
  });
}

async function backlogWorkload(): Promise<Result> {
  const b = await setupOrg({ records: BACKLOG, rateLimit: 0, prefix: 'K' });
  return measure('backlog', b, 0, {}, async () => {
    await commitBacklog(b, (_r, i) => ({ notes: `bench ${i}` }));
    return BACKLOG;
  });
}

async function planWorkload(): Promise<Result> {
  // The plan's organization is not synced by pems-sync (no sink takes it): the plan's own worker does.
  const plan = await setupOrg({ records: PLAN_BACKLOG, rateLimit: 10, prefix: 'LP' });
  await commitBacklog(plan, (_r, i) => ({ notes: `same workload ${i}` }));
  const planSeconds = await drainAsOriginalPlan(plan, PLAN_BACKLOG);
  const lp = await latency(plan);
  const puts = Object.values(plan.sim.control.stats().requests['PUT /pfa/{id}'] ?? {}).reduce((a, n) => a + n, 0);
  await plan.close();
  const ours = await setupOrg({ records: PLAN_BACKLOG, rateLimit: 10, prefix: 'LO' });
  let committedAt = 0;
  const r = await measure('plan', ours, 10, {}, async () => {
    committedAt = Date.now();
    await commitBacklog(ours, (_r, i) => ({ notes: `same workload ${i}` }));
    return PLAN_BACKLOG;
  });
  // pems-sync's drain time on the same footing as the plan's: from the commit to the last outcome.
  const oursSeconds = r.stages.stages['commit→acknowledged'].max || (Date.now() - committedAt) / 1000;
  return {
    ...r,
    extra: {
      originalPlan: { seconds: Number(planSeconds.toFixed(2)), p50: lp.p50, p95: lp.p95, putRequests: puts },
      pemsSyncSeconds: oursSeconds,
      ratio: Number((planSeconds / oursSeconds).toFixed(1)),
    },
  };
}

function summary(r: Result): string {
  const s = r.stages.stages;
  const ack = s['commit→acknowledged'];
  const res = s['commit→result'];
  const cpu = Object.entries(r.cpuMicrosPerModification)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `| ${r.workload} | ${r.modifications} | ${r.drainPerSecond} | ${ack.p50} / ${ack.p95} / ${ack.p99} / ${ack.p999} | ${res.p50} / ${res.p99} | ${r.stages.cdcEvents.perModification} | ${cpu} | ${r.maxRequestsPerSecond} | ${r.batchRequests} | ${r.peakRssMiB} | ${r.uptimeBefore.split(' ').slice(0, 3).join(' ')} |`;
}

async function main(): Promise<void> {
  const results: Result[] = [];
  const run = async (name: string, f: () => Promise<Result>): Promise<void> => {
    if (!workloads.includes(name)) return;
    const r = await f();
    console.log(JSON.stringify({ ...r, stages: undefined }));
    console.log(stageTable(name, r.stages));
    results.push(r);
  };
  await run('steady100', () => steadyWorkload('steady100', 100, 0));
  await run('steady10', () => steadyWorkload('steady10', 10, 0));
  await run('faults100', () => steadyWorkload('faults100', 100, 0.01));
  await run('backlog', backlogWorkload);
  await run('plan', planWorkload);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), durationSeconds: DURATION_S, results }, null, 2));
  console.log(
    '\n| workload | modifications | drain mods/s | commit→PEMS ack p50 / p95 / p99 / p99.9 s | commit→result p50 / p99 s | CDC events per mod | CPU µs per mod | max PEMS req/s | batch requests | peak RSS MiB | load avg (1/5/15 min) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) console.log(summary(r));
  for (const r of results)
    if (r.extra?.ratio)
      console.log(`\noriginal plan vs pems-sync (${PLAN_BACKLOG} backlog at 10/s): ${JSON.stringify(r.extra)}`);
  console.log(`\nwritten to ${out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
