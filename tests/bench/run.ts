/**
 * `npm run bench`: the workloads of issue 16's table side by side in one run, through the real
 * stack (Postgres → Debezium → Kafka → sink process(es) → PEMS simulator). A benchmark, not a
 * test: it asserts nothing, it measures. Per workload (measure.ts, workloads.ts): commit→PEMS
 * acknowledged and commit→result percentiles over every modification, the per-stage breakdown
 * (stages.ts), CDC events per modification, CPU per modification per process (cpu.ts), the most
 * PEMS requests in any second of any credential and the sinks' peak RSS.
 *
 *   BENCH_WORKLOADS=steady100,steady10,faults100,backlog,floor,orgs10x2,backlog100k,plan   (default: all)
 *   floor: the chosen libraries' own CPU per modification with none of pems-sync's logic
 *          (floor.ts, in its own process), beside the sink's figure of the backlog
 *   BENCH_DURATION_S=300   how long the steady workloads commit (the issue's 5 minutes)
 *   BENCH_BACKLOG=10000    the backlog drained with the PEMS limit off
 *   BENCH_ORGS=10 BENCH_ORGS_BACKLOG=2000   orgs10x2: organizations at 10 req/s each, backlog per
 *                          organization, 2 sink instances; BENCH_UNTHROTTLED (mods/s) stands in for
 *                          the backlog workload's figure in its goal when that one is not run
 *   BENCH_BIG_BACKLOG=100000  backlog100k: the long drain with the limit off, 1 instance
 *   BENCH_PLAN_BACKLOG=1000  the backlog of the original plan vs pems-sync comparison
 *   BENCH_OUT=reports/bench.json
 *   BENCH_SINK_HEAP_MIB=160  the sink's --max-old-space-size (the Helm chart's and compose's); 0: Node's default
 *   BENCH_SINK_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'  more node flags for the sink
 *   BENCH_SINK_ENV='{"PEMS_SYNC_HTTP_PORT":"9999"}'  the sink's settings for one run
 * Sink settings under test come from the environment as usual (PEMS_SYNC_*); Debezium's from
 * the connector config (connectors/debezium/pfa-modification.json).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FloorReport } from './floor';
import type { Result } from './measure';
import { buildSink } from './setup';
import { stageTable } from './stages';
import { backlogWorkload, bigBacklogWorkload, orgsWorkload, planWorkload, settings, steadyWorkload } from './workloads';

const workloads = (
  process.env.BENCH_WORKLOADS ?? 'steady100,steady10,faults100,backlog,floor,orgs10x2,backlog100k,plan'
).split(',');
const out = process.env.BENCH_OUT ?? 'reports/bench.json';

function summary(r: Result): string {
  const s = r.stages.stages;
  const ack = s['commit→acknowledged'];
  const res = s['commit→result'];
  const pg = Object.entries(r.postgresCpuMicrosPerModification)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const cpu = Object.entries(r.cpuMicrosPerModification)
    .map(([k, v]) => (k === 'postgres' ? `${k} ${v} (${pg})` : `${k} ${v}`))
    .join(', ');
  return `| ${r.workload} | ${r.modifications} | ${r.drainPerSecond} | ${ack.p50} / ${ack.p95} / ${ack.p99} / ${ack.p999} | ${res.p50} / ${res.p99} | ${r.stages.cdcEvents.perModification} | ${cpu} | ${r.maxRequestsPerSecond} | ${r.batchRequests} | ${r.peakRssMiBPerInstance.join(' / ')} | ${r.uptimeBefore.split(' ').slice(0, 3).join(' ')} |`;
}

/** orgs10x2: the aggregate against its goal, then each credential's most requests in a second. */
function organizationsTable(r: Result): string {
  const x = r.extra ?? {};
  const maxPerSecond = (x.maxRequestsPerSecondPerOrganization ?? {}) as Record<string, number>;
  const drain = (x.drainPerSecondPerOrganization ?? {}) as Record<string, number | null>;
  const lines = [
    `\norgs10x2: ${r.organizations} organizations × ${String(x.backlogPerOrganization)} at 10 req/s each, ${r.instances} instances: ` +
      `${r.drainPerSecond} mods/s aggregate, goal ≥ ${String(x.goalPerSecond)} (90 % of min(${r.organizations} × 1,000, ` +
      `unthrottled ${String(x.unthrottledPerSecond ?? 'not measured')})): ${x.meetsDrainGoal ? 'met' : 'NOT met'}; ` +
      `peak RSS per instance ${r.peakRssMiBPerInstance.join(' / ')} MiB` +
      (x.flag ? `\nFLAG: ${String(x.flag)}` : `; no credential over 10 requests in any second`),
    '| organization | max PEMS req/s | drain mods/s |',
    '|---|---|---|',
  ];
  for (const [org, n] of Object.entries(maxPerSecond))
    lines.push(`| ${org} | ${n}${n > 10 ? ' (over 10)' : ''} | ${drain[org] ?? 'all at once'} |`);
  return lines.join('\n');
}

/** backlog100k: the pace of the last 10 % of outcomes against the first 10 %, and the peak RSS. */
function bigBacklogLine(r: Result): string {
  const x = r.extra ?? {};
  return (
    `\nbacklog100k: ${r.modifications} backlog, limit off, 1 instance: first 10 % ${String(x.firstTenthPerSecond)}/s, ` +
    `last 10 % ${String(x.lastTenthPerSecond)}/s, ratio ${String(x.lastToFirstRatio)} (goal ≥ 0.9: ${x.meetsPaceGoal ? 'met' : 'NOT met'}); ` +
    `peak RSS ${r.peakRssMiB} MiB (goal < 250: ${x.meetsRssGoal ? 'met' : 'NOT met'}); seeding ${String(x.seedSeconds)} s, ` +
    `committing ${String(x.commitSeconds)} s, stage readback ${r.stageReadbackSeconds} s (bench RSS ${r.stageReadbackRssBeforeMiB} → ${r.stageReadbackRssMiB} MiB)` +
    `\noutcomes/s per tenth: ${JSON.stringify(x.perTenthPerSecond)}; sink RSS every ${String(x.rssEverySeconds)} s (MiB): ` +
    `${JSON.stringify((x.rssTimelineMiB as number[][] | undefined)?.map((s) => s[0]))}`
  );
}

/** floor.ts in its own process (its CPU is that process's alone), as `npm run bench:floor` starts it. */
function runFloor(): FloorReport {
  const dir = mkdtempSync(join(tmpdir(), 'bench-floor-'));
  const file = join(dir, 'floor.json');
  try {
    execFileSync('npm', ['run', '--silent', 'bench:floor'], {
      env: { ...process.env, FLOOR_OUT: file },
      stdio: 'inherit',
      timeout: 30 * 60_000,
    });
    return JSON.parse(readFileSync(file, 'utf8')) as FloorReport;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function floorLine(f: FloorReport, backlog: Result | undefined): string {
  const passes = f.passes
    .map(
      (p) =>
        `pass ${p.pass}: ${p.stages.map((s) => `${s.stage} ${s.cpuMicrosPerModification}`).join(' + ')} = ${p.floorCpuMicrosPerModification}`,
    )
    .join('; ');
  const sink = backlog ? `; the sink in the backlog: ${backlog.cpuMicrosPerModification.sink}` : '';
  return `\nfloor (µs of CPU per modification, the libraries alone, ${f.modificationsPerStage} per stage): ${passes}${sink}`;
}

async function main(): Promise<void> {
  // The sink runs compiled, as deployed (setup.ts spawnSink).
  buildSink();
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
  const backlog = results.find((r) => r.workload === 'backlog');
  const floor = workloads.includes('floor') ? runFloor() : null;
  const unthrottled =
    backlog?.drainPerSecond ?? (process.env.BENCH_UNTHROTTLED ? Number(process.env.BENCH_UNTHROTTLED) : null);
  await run('orgs10x2', () => orgsWorkload(unthrottled));
  await run('backlog100k', bigBacklogWorkload);
  await run('plan', planWorkload);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      { at: new Date().toISOString(), durationSeconds: settings.durationSeconds, settings, results, floor },
      null,
      2,
    ),
  );
  console.log(
    '\n| workload | modifications | drain mods/s | commit→PEMS ack p50 / p95 / p99 / p99.9 s | commit→result p50 / p99 s | CDC events per mod | CPU µs per mod | max PEMS req/s | batch requests | peak RSS MiB | load avg (1/5/15 min) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) console.log(summary(r));
  if (floor) console.log(floorLine(floor, backlog));
  for (const r of results) {
    if (r.workload === 'plan' && r.extra?.ratio)
      console.log(`\noriginal plan vs pems-sync (${settings.planBacklog} backlog at 10/s): ${JSON.stringify(r.extra)}`);
    if (r.workload === 'orgs10x2') console.log(organizationsTable(r));
    if (r.workload === 'backlog100k') console.log(bigBacklogLine(r));
  }
  console.log(`\nwritten to ${out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
