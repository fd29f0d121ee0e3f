/**
 * The workloads of `npm run bench` (issue 16's table), each measured by measure.ts. Sizes come
 * from the environment (run.ts documents them).
 */
import { drainAsOriginalPlan } from './original-plan';
import { measure, type Result } from './measure';
import { commitBacklog, latency, setupOrg, TERMINAL, type BenchOrg } from './setup';

const env = (k: string, d: number): number => Number(process.env[k] ?? d);
export const settings = {
  durationSeconds: env('BENCH_DURATION_S', 300),
  backlog: env('BENCH_BACKLOG', 10_000),
  planBacklog: env('BENCH_PLAN_BACKLOG', 1_000),
  organizations: env('BENCH_ORGS', 10),
  orgsBacklog: env('BENCH_ORGS_BACKLOG', 2_000),
  bigBacklog: env('BENCH_BIG_BACKLOG', 100_000),
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const seconds = (since: number): number => Number(((Date.now() - since) / 1000).toFixed(1));

/** Commits at `perSecond` (Poisson arrivals) for the duration: edits of the next record at its mirror version. */
async function steady(b: BenchOrg, perSecond: number): Promise<number> {
  const until = Date.now() + settings.durationSeconds * 1000;
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

export async function steadyWorkload(name: string, perSecond: number, faults503: number): Promise<Result> {
  const b = await setupOrg({ records: 2000, rateLimit: 10, users: 100, prefix: 'S' });
  if (faults503 > 0) b.sim.control.setFaults({ errorRates: { 503: faults503 } });
  return measure(name, b, 10, {}, () => steady(b, perSecond), {
    commitsPerSecond: perSecond,
    durationSeconds: settings.durationSeconds,
    injected503: faults503,
  });
}

export async function backlogWorkload(): Promise<Result> {
  const b = await setupOrg({ records: settings.backlog, rateLimit: 0, prefix: 'K' });
  return measure('backlog', b, 0, {}, async () => {
    await commitBacklog(b, (_r, i) => ({ notes: `bench ${i}` }));
    return settings.backlog;
  });
}

/**
 * 10 organizations (BENCH_ORGS), each with its own credential at PEMS's 10 requests/s, a backlog of
 * BENCH_ORGS_BACKLOG each, drained by 2 sink instances in one consumer group that both take every
 * organization. `unthrottled` is the 1-instance drain with the limit off (the backlog workload of
 * the same run, or BENCH_UNTHROTTLED): the goal is ≥ 90 % of min(organizations × 1,000, it).
 */
export async function orgsWorkload(unthrottled: number | null): Promise<Result> {
  const { organizations, orgsBacklog } = settings;
  const b = await setupOrg({ records: orgsBacklog, rateLimit: 10, prefix: 'M', organizations });
  const r = await measure(
    'orgs10x2',
    b,
    10,
    {},
    async () => {
      await commitBacklog(b, (_r, i) => ({ notes: `orgs ${i}` }));
      return organizations * orgsBacklog;
    },
    { backlogPerOrganization: orgsBacklog },
    { instances: 2, after: perOrganization },
  );
  const ceiling = Math.min(organizations * 1000, unthrottled ?? Infinity);
  const perOrg = (r.extra?.maxRequestsPerSecondPerOrganization ?? {}) as Record<string, number>;
  const over = Object.entries(perOrg).filter(([, n]) => n > 10);
  return {
    ...r,
    extra: {
      ...r.extra,
      unthrottledPerSecond: unthrottled,
      goalPerSecond: Math.round(0.9 * ceiling),
      meetsDrainGoal: r.drainPerSecond >= 0.9 * ceiling,
      fractionOfCeiling: Number((r.drainPerSecond / ceiling).toFixed(3)),
      credentialsOverLimit: Object.fromEntries(over),
      ...(over.length > 0
        ? { flag: `over 10 PEMS requests in a second: ${over.map(([o, n]) => `${o} ${n}`).join(', ')}` }
        : {}),
    },
  };
}

/** Per organization: its most requests in any second, its drain, and the outcomes per instance. */
async function perOrganization(b: BenchOrg): Promise<Record<string, unknown>> {
  const perSecond = b.sim.control.stats().maxRequestsPerSecond;
  const drains = await b.db.raw(
    `SELECT organization_id, count(*) AS n, extract(epoch FROM max(synced_at) - min(synced_at)) AS span
       FROM pfa_modification WHERE organization_id = ANY(?) AND sync_status = 'synced' GROUP BY organization_id`,
    [b.orgs],
  );
  const byInstance = (await b
    .db('pfa_modification')
    .whereIn('organization_id', b.orgs)
    .select('claimed_by')
    .count('* as n')
    .groupBy('claimed_by')) as Array<{ claimed_by: string | null; n: string }>;
  return {
    maxRequestsPerSecondPerOrganization: Object.fromEntries(b.orgs.map((o) => [o, perSecond[o] ?? 0])),
    // First to last outcome of each organization; no rate when they were all recorded at once
    // (a span under 50 ms: a small backlog fits in a few batches recorded together).
    drainPerSecondPerOrganization: Object.fromEntries(
      (drains.rows as Array<{ organization_id: string; n: string; span: string | null }>).map((d) => [
        d.organization_id,
        Number(d.span ?? 0) < 0.05 ? null : Math.round((Number(d.n) - 1) / Number(d.span)),
      ]),
    ),
    modificationsByClaimingInstance: Object.fromEntries(byInstance.map((x) => [x.claimed_by ?? 'none', Number(x.n)])),
  };
}

/**
 * A BENCH_BIG_BACKLOG (100,000) backlog with the limit off, 1 instance: does the drain keep its
 * pace (outcomes per second of the last 10 % against the first 10 %, in outcome time order) and
 * its memory (peak RSS)? The backlog is committed and on the CDC topic before the sink starts, so
 * the first 10 % is the sink's pace, not the commit's or Debezium's (with the sink started first
 * they bound it: 307/s first vs 1,409/s last at 100,000 on a loaded machine). Seeding, committing
 * and the stage readback are timed.
 */
export async function bigBacklogWorkload(): Promise<Result> {
  const n = settings.bigBacklog;
  const seeding = Date.now();
  const b = await setupOrg({ records: n, rateLimit: 0, prefix: 'H' });
  const seedSeconds = seconds(seeding);
  let commitSeconds = 0;
  const r = await measure(
    'backlog100k',
    b,
    0,
    {},
    async () => {
      const committing = Date.now();
      await commitBacklog(b, (_r, i) => ({ notes: `big ${i}` }));
      commitSeconds = seconds(committing);
      return n;
    },
    {},
    { after: paceOfOutcomes, commitFirst: true, rssEveryMs: 5000 },
  );
  const ratio = Number(r.extra?.lastToFirstRatio ?? 0);
  return {
    ...r,
    extra: {
      ...r.extra,
      seedSeconds,
      commitSeconds,
      meetsPaceGoal: ratio >= 0.9,
      meetsRssGoal: r.peakRssMiB < 250,
    },
  };
}

/** Outcomes per second of the first and the last 10 % of outcomes, ordered by outcome time. */
async function paceOfOutcomes(b: BenchOrg): Promise<Record<string, unknown>> {
  const q = await b.db.raw(
    `SELECT count(*) AS n,
            extract(epoch FROM percentile_disc(0.1) WITHIN GROUP (ORDER BY at) - min(at)) AS first_span,
            extract(epoch FROM max(at) - percentile_disc(0.9) WITHIN GROUP (ORDER BY at)) AS last_span
       FROM (SELECT CASE WHEN sync_status = 'synced' THEN synced_at ELSE updated_at END AS at
               FROM pfa_modification WHERE organization_id = ANY(?) AND sync_status = ANY(?)) o`,
    [b.orgs, TERMINAL],
  );
  const row = q.rows[0] as { n: string; first_span: string; last_span: string } | undefined;
  const tenth = Number(row?.n ?? 0) / 10;
  const first = tenth / Math.max(0.001, Number(row?.first_span ?? 0));
  const last = tenth / Math.max(0.001, Number(row?.last_span ?? 0));
  // The whole shape: outcomes per second of each tenth, from its first outcome to the next tenth's.
  const tenths = await b.db.raw(
    `SELECT decile, count(*) AS n, extract(epoch FROM max(at) - min(at)) AS span
       FROM (SELECT at, ntile(10) OVER (ORDER BY at) AS decile
               FROM (SELECT CASE WHEN sync_status = 'synced' THEN synced_at ELSE updated_at END AS at
                       FROM pfa_modification WHERE organization_id = ANY(?) AND sync_status = ANY(?)) o) d
      GROUP BY decile ORDER BY decile`,
    [b.orgs, TERMINAL],
  );
  return {
    firstTenthPerSecond: Math.round(first),
    lastTenthPerSecond: Math.round(last),
    lastToFirstRatio: Number((last / Math.max(1e-9, first)).toFixed(3)),
    perTenthPerSecond: (tenths.rows as Array<{ n: string; span: string }>).map((t) =>
      Math.round(Number(t.n) / Math.max(0.001, Number(t.span))),
    ),
  };
}

export async function planWorkload(): Promise<Result> {
  const size = settings.planBacklog;
  // The plan's organization is not synced by pems-sync (no sink takes it): the plan's own worker does.
  const plan = await setupOrg({ records: size, rateLimit: 10, prefix: 'LP' });
  await commitBacklog(plan, (_r, i) => ({ notes: `same workload ${i}` }));
  const planSeconds = await drainAsOriginalPlan(plan, size);
  const lp = await latency(plan);
  const puts = Object.values(plan.sim.control.stats().requests['PUT /pfa/{id}'] ?? {}).reduce((a, n) => a + n, 0);
  await plan.close();
  const ours = await setupOrg({ records: size, rateLimit: 10, prefix: 'LO' });
  let committedAt = 0;
  const r = await measure('plan', ours, 10, {}, async () => {
    committedAt = Date.now();
    await commitBacklog(ours, (_r, i) => ({ notes: `same workload ${i}` }));
    return size;
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
