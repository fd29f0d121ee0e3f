/**
 * `npm run bench`: drains backlogs of committed modifications through the real stack
 * (Postgres → Debezium → Kafka → sink process → PEMS simulator) and reports wall time,
 * modifications/s, commit-to-PEMS latency, the most PEMS requests in any second and the sink's
 * peak RSS. A benchmark, not a test: it asserts nothing, it measures.
 *
 *   BENCH_SIZES=1000,10000  BENCH_LIMITS=10,0   (0 = the simulator's rate limit off)
 *   BENCH_OUT=reports/bench.json
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createDatabase } from '../../connectors/postgres/db';
import { encryptCredential, parseCredentialKeys } from '../../connectors/pems';
import { startPemsSimulator } from '../../connectors/pems-simulator';

const sizes = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const limits = (process.env.BENCH_LIMITS ?? '10,0').split(',').map(Number);
const out = process.env.BENCH_OUT ?? 'reports/bench.json';
const cdcTopic = `${process.env.CDC_TOPIC_PREFIX ?? 'vanguard'}.public.pfa_modification`;

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
  const run = `B${Date.now().toString(36)}`.toUpperCase();
  const org = run;
  const keys = `b:${randomBytes(32).toString('base64')}`;
  const apiKey = randomBytes(16).toString('hex');
  const db = createDatabase({ url: process.env.DATABASE_URL!, poolMax: 4 });
  const sim = await startPemsSimulator({ port: 0, testMode: true, rateLimitPerSecond: limit, credentials: [{ apiKey, tenant: 'B', organization: org }] });
  const ids = sim.control.seed({ organization: org, count: n, seed: 1 });
  const caFile = join(mkdtempSync(join(tmpdir(), 'bench-')), 'ca.pem');
  writeFileSync(caFile, sim.cert!);

  await db('organization').insert({ id: org, name: run, sync_enabled: true, pems_base_url: sim.url, pems_tenant: 'B', pems_credential_encrypted: encryptCredential(apiKey, parseCredentialKeys(keys)) });
  const user = `bench-${run.toLowerCase()}`;
  await db('app_user').insert({ id: user, username: user });
  await db('user_organization').insert({ user_id: user, organization_id: org, perm_sync: true });
  // The mirror and its history, in bulk (one row per record at its seeded version).
  const records = ids.map((id) => sim.control.getRecord(id)!);
  for (let i = 0; i < records.length; i += 1000) {
    const chunk = records.slice(i, i + 1000);
    await db('pfa_mirror').insert(chunk.map((r) => ({ organization_id: org, pfa_id: r.pfaId, version: r.version, data: JSON.stringify(r) })));
    await db('pfa_mirror_history').insert(chunk.map((r) => ({ organization_id: org, pfa_id: r.pfaId, version: r.version, data: JSON.stringify(r), origin: 'seed' })));
  }

  const kafka = new Kafka({ clientId: 'bench', brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topics = { results: `bench.${run.toLowerCase()}.results`, dlq: `bench.${run.toLowerCase()}.dlq` };
  await admin.createTopics({ waitForLeaders: true, topics: [topics.results, topics.dlq].map((topic) => ({ topic, numPartitions: 6 })) });
  const groupId = `bench-${run.toLowerCase()}`;
  const ends = await admin.fetchTopicOffsets(cdcTopic);
  await admin.setOffsets({ groupId, topic: cdcTopic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
  await admin.disconnect();

  // The backlog: every modification committed before the sink starts.
  const committedAt = new Date();
  for (let i = 0; i < records.length; i += 1000) {
    await db('pfa_modification').insert(
      records.slice(i, i + 1000).map((r, j) => ({
        organization_id: org, pfa_id: r.pfaId, user_id: user, delta: JSON.stringify({ notes: `bench ${i + j}` }),
        base_version: r.version, sync_status: 'committed', committed_at: committedAt,
      })),
    );
  }

  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../../connectors/sink/main.ts')], {
    env: {
      ...process.env,
      PEMS_SYNC_GROUP_ID: groupId,
      PEMS_SYNC_RESULT_TOPIC: topics.results,
      PEMS_SYNC_DLQ_TOPIC: topics.dlq,
      PEMS_SYNC_CREDENTIAL_KEYS: keys,
      PEMS_SYNC_PEMS_CA_FILE: caFile,
      PEMS_SYNC_PEMS_RATE_LIMIT: String(limit),
      PEMS_SYNC_HTTP_PORT: '0',
      PEMS_SYNC_LOG_LEVEL: 'error',
      PEMS_SYNC_ORGANIZATIONS: org,
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let peakKiB = 0;
  const sample = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      /* exited */
    }
  }, 200);

  const terminal = ['synced', 'conflict', 'rejected', 'failed', 'superseded'];
  for (;;) {
    const r = (await db('pfa_modification').where({ organization_id: org }).whereIn('sync_status', terminal).count('* as n').first()) as { n: string };
    if (Number(r.n) >= n) break;
    if (Date.now() - started > 900_000) throw new Error(`backlog of ${n} not drained in 15 minutes (${r.n} done)`);
    await new Promise((res) => setTimeout(res, 100));
  }
  const wall = (Date.now() - started) / 1000;
  clearInterval(sample);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));

  const lat = await db.raw(
    `SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM synced_at - committed_at)) AS p
       FROM pfa_modification WHERE organization_id = ? AND sync_status = 'synced'`,
    [org],
  );
  const p = (lat.rows[0].p ?? [0, 0, 0]) as number[];
  const span = await db.raw(
    `SELECT extract(epoch FROM max(synced_at) - min(synced_at)) AS s FROM pfa_modification WHERE organization_id = ? AND sync_status = 'synced'`,
    [org],
  );
  const drain = Math.max(0.001, Number(span.rows[0].s ?? 0));
  const rows = (await db('pfa_modification').where({ organization_id: org }).select('sync_status').count('* as n').groupBy('sync_status')) as Array<{ sync_status: string; n: string }>;
  const stats = sim.control.stats();
  const result: Result = {
    modifications: n,
    rateLimit: limit,
    wallSeconds: Number(wall.toFixed(2)),
    perSecond: Math.round(n / wall),
    drainSeconds: Number(drain.toFixed(2)),
    drainPerSecond: Math.round((n - 1) / drain),
    latencyP50: Number(Number(p[0]).toFixed(2)),
    latencyP95: Number(Number(p[1]).toFixed(2)),
    latencyP99: Number(Number(p[2]).toFixed(2)),
    maxRequestsPerSecond: stats.maxRequestsPerSecond[org] ?? 0,
    batchRequests: Object.values(stats.requests['POST /pfa/batch'] ?? {}).reduce((a, b) => a + b, 0),
    peakRssMiB: Math.round(peakKiB / 1024),
    outcomes: Object.fromEntries(rows.map((r) => [r.sync_status, Number(r.n)])),
  };
  await sim.close();
  await db('organization').where({ id: org }).update({ sync_enabled: false });
  await db.destroy();
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
