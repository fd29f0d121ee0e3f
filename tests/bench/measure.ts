/**
 * One measured workload of `npm run bench`: start the sink instance(s) and let them settle, drive
 * the workload, wait for every outcome, then read the figures every workload reports (the
 * Result) from the database, the simulator, /proc and the topics.
 */
import { readFileSync } from 'node:fs';
import { cpuPerModification, cpuSample, POSTGRES_ROLES_SQL, postgresBackendSeconds, postgresShares } from './cpu';
import { batchRequests, latency, spawnSink, waitOnCdcTopic, waitTerminal, type BenchOrg } from './setup';
import { stageReport, type StageReport } from './stages';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Result {
  workload: string;
  modifications: number;
  organizations: number;
  instances: number;
  rateLimit: number;
  /** From the first outcome to the last. */
  drainSeconds: number;
  drainPerSecond: number;
  /** commit → recorded (synced_at), the figure the earlier reports gave. */
  recordedP50: number;
  recordedP99: number;
  /** The most PEMS requests in any second of any one credential. */
  maxRequestsPerSecond: number;
  batchRequests: number;
  /** The largest peak RSS of the instances; each instance's in peakRssMiBPerInstance. */
  peakRssMiB: number;
  peakRssMiBPerInstance: number[];
  cpuMicrosPerModification: Record<string, number>;
  /** The Postgres figure of cpuMicrosPerModification by whom its backends served (cpu.ts). */
  postgresCpuMicrosPerModification: Record<string, number>;
  outcomes: Record<string, number>;
  stages: StageReport;
  /** Reading the CDC and result topics back for the stage breakdown: time and the bench's peak RSS. */
  stageReadbackSeconds: number;
  /** The bench process's RSS when the readback began (the simulator's records and write log in it) and its peak. */
  stageReadbackRssBeforeMiB: number;
  stageReadbackRssMiB: number;
  uptimeBefore: string;
  uptimeAfter: string;
  extra?: Record<string, unknown>;
}

export interface MeasureOptions {
  /** Sink processes in the same consumer group, each taking every organization (default 1). */
  instances?: number;
  /** Workload-specific figures read before the organization is closed; merged into `extra`. */
  after?: (b: BenchOrg) => Promise<Record<string, unknown>>;
  /**
   * Commit the workload and wait until Debezium has put it on the CDC topic before the sinks
   * start (a backlog that is all there when the drain begins), instead of starting and settling
   * the sinks first. CPU is then counted from the sinks' start: the drain's, not the commit's.
   */
  commitFirst?: boolean;
  /** Sample each instance's resident set (VmRSS) every this many ms into extra.rssTimelineMiB. */
  rssEveryMs?: number;
}

/** VmRSS of a process, MiB (0 once it exited). */
function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

export const uptime = (): string => readFileSync('/proc/loadavg', 'utf8').trim();

/** The sinks joined and settled (module loading and the group join done): their CPU stops rising. */
async function settled(pids: number[]): Promise<void> {
  await sleep(3000);
  let last = cpuSample(pids).sink ?? 0;
  for (let i = 0; i < 40; i++) {
    await sleep(500);
    const now = cpuSample(pids).sink ?? 0;
    if (now - last < 0.03 * Math.max(1, pids.length)) return;
    last = now;
  }
}

async function timedStageReport(
  b: BenchOrg,
): Promise<{ stages: StageReport; seconds: number; rssBeforeMiB: number; rssMiB: number }> {
  const started = Date.now();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
  try {
    const stages = await stageReport(b, b.cdcStart);
    peak = Math.max(peak, process.memoryUsage().rss);
    return {
      stages,
      seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
      rssBeforeMiB: Math.round(before / 2 ** 20),
      rssMiB: Math.round(peak / 2 ** 20),
    };
  } finally {
    clearInterval(sample);
  }
}

export async function measure(
  workload: string,
  b: BenchOrg,
  limit: number,
  sinkEnv: Record<string, string>,
  drive: () => Promise<number>,
  extra?: Record<string, unknown>,
  opts: MeasureOptions = {},
): Promise<Result> {
  const uptimeBefore = uptime();
  const onTopic = Date.now();
  const committed = opts.commitFirst ? await drive() : 0;
  if (opts.commitFirst) await waitOnCdcTopic(b, committed);
  const backlogOnTopicSeconds = (Date.now() - onTopic) / 1000;
  const sinks = Array.from({ length: opts.instances ?? 1 }, () =>
    spawnSink(b, { PEMS_SYNC_PEMS_RATE_LIMIT: String(limit), ...sinkEnv }),
  );
  const pids = sinks.flatMap((s) => (s.child.pid ? [s.child.pid] : []));
  const timeline: number[][] = [];
  const rss = opts.rssEveryMs ? setInterval(() => timeline.push(pids.map(rssMiB)), opts.rssEveryMs) : undefined;
  if (!opts.commitFirst) await settled(pids);
  const roles = new Map<number, string>();
  const readRoles = async (): Promise<void> => {
    const r = await b.db.raw(POSTGRES_ROLES_SQL);
    for (const row of r.rows as Array<{ pid: number; role: string }>) roles.set(row.pid, row.role);
  };
  await readRoles();
  const pg0 = postgresBackendSeconds();
  const cpu0 = cpuSample(pids);
  const n = opts.commitFirst ? committed : await drive();
  await readRoles(); // the backends the drive and the sinks opened meanwhile, while they live
  await waitTerminal(b, n);
  clearInterval(rss);
  const pg1 = postgresBackendSeconds();
  const cpu1 = cpuSample(pids);
  await readRoles();
  await Promise.all(sinks.map((s) => s.stop()));
  const l = await latency(b);
  const readback = await timedStageReport(b);
  const recorded = await b.db.raw(
    `SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM synced_at - committed_at)) AS p
       FROM pfa_modification WHERE organization_id = ANY(?) AND sync_status = 'synced'`,
    [b.orgs],
  );
  const p = (recorded.rows[0].p ?? [0, 0]) as number[];
  const perSecond = b.sim.control.stats().maxRequestsPerSecond;
  const own = await (opts.after ? opts.after(b) : Promise.resolve({}));
  const allExtra = {
    ...extra,
    ...(opts.commitFirst ? { backlogOnTopicSeconds: Number(backlogOnTopicSeconds.toFixed(1)) } : {}),
    ...(opts.rssEveryMs ? { rssEverySeconds: opts.rssEveryMs / 1000, rssTimelineMiB: timeline } : {}),
    ...own,
  };
  const peaks = sinks.map((s) => s.peakRssMiB());
  const result: Result = {
    workload,
    modifications: n,
    organizations: b.orgs.length,
    instances: sinks.length,
    rateLimit: limit,
    drainSeconds: l.drainSeconds,
    drainPerSecond: Math.round((n - 1) / l.drainSeconds),
    recordedP50: Number(Number(p[0]).toFixed(3)),
    recordedP99: Number(Number(p[1]).toFixed(3)),
    maxRequestsPerSecond: Math.max(0, ...b.orgs.map((o) => perSecond[o] ?? 0)),
    batchRequests: batchRequests(b),
    peakRssMiB: Math.max(0, ...peaks),
    peakRssMiBPerInstance: peaks,
    cpuMicrosPerModification: cpuPerModification(cpu0, cpu1, n),
    postgresCpuMicrosPerModification: postgresShares(pg0, pg1, roles, (cpu1.postgres ?? 0) - (cpu0.postgres ?? 0), n),
    outcomes: l.outcomes,
    stages: readback.stages,
    stageReadbackSeconds: readback.seconds,
    stageReadbackRssBeforeMiB: readback.rssBeforeMiB,
    stageReadbackRssMiB: readback.rssMiB,
    uptimeBefore,
    uptimeAfter: uptime(),
    ...(Object.keys(allExtra).length > 0 ? { extra: allExtra } : {}),
  };
  await b.close();
  return result;
}
