/**
 * What every benchmark needs: an organization with its own PEMS simulator, users, a seeded
 * mirror, its own result/dead-letter topics and a consumer group at the end of the CDC topic,
 * and the sink as a real process (peak RSS read from /proc).
 */
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { Kafka, logLevel } from 'kafkajs';
import { createDatabase } from '../../connectors/postgres/db';
import { encryptCredential, parseCredentialKeys } from '../../connectors/pems';
import { startPemsSimulator, type PemsSimulator } from '../../connectors/pems-simulator';
import type { PfaRecord } from '../../streams/pfa-record';
import { spawnSinkProcess, type SinkProcess } from '../support/sink-process';

export const cdcTopic = `${process.env.CDC_TOPIC_PREFIX ?? 'vanguard'}.public.pfa_modification`;
export const TERMINAL = ['synced', 'conflict', 'rejected', 'failed', 'superseded'];
/** The statuses of pfa_modification_waiting's predicate: committed, not yet given an outcome. */
const WAITING = ['committed', 'queued', 'syncing'];
/** Rows per bulk insert: 5,000 × 7 columns stays under Postgres's 65,535 bound parameters. */
const BULK_ROWS = 5000;

export interface BenchOrg {
  /** The first organization (the only one unless `organizations` was asked for). */
  org: string;
  /** Every organization of the workload, each with its own credential in the one simulator. */
  orgs: string[];
  db: Knex;
  sim: PemsSimulator;
  records: PfaRecord[];
  users: string[];
  keys: string;
  caFile: string;
  topics: { results: string; dlq: string };
  groupId: string;
  /** The CDC topic's end offsets when the organization was set up: its change events come after. */
  cdcStart: Map<number, string>;
  close(): Promise<void>;
}

export async function setupOrg(opts: {
  records: number;
  rateLimit: number;
  users?: number;
  prefix?: string;
  /** Organizations, each with its own credential and `records` records (default 1). */
  organizations?: number;
}): Promise<BenchOrg> {
  const stamp = Date.now().toString(36);
  const count = opts.organizations ?? 1;
  const orgs = Array.from({ length: count }, (_, i) =>
    `${opts.prefix ?? 'B'}${count > 1 ? `${i}X` : ''}${stamp}`.toUpperCase(),
  );
  const org = orgs[0]!;
  const keys = `b:${randomBytes(32).toString('base64')}`;
  const apiKeys = orgs.map(() => randomBytes(16).toString('hex'));
  const db = createDatabase({ url: process.env.DATABASE_URL!, poolMax: 6 });
  const sim = await startPemsSimulator({
    port: 0,
    testMode: true,
    rateLimitPerSecond: opts.rateLimit,
    credentials: orgs.map((o, i) => ({ apiKey: apiKeys[i]!, tenant: 'B', organization: o })),
  });
  const ids = orgs.flatMap((o) => sim.control.seed({ organization: o, count: opts.records, seed: 1 }));
  const caFile = join(mkdtempSync(join(tmpdir(), 'bench-')), 'ca.pem');
  writeFileSync(caFile, sim.cert!);
  await db('organization').insert(
    orgs.map((o, i) => ({
      id: o,
      name: o,
      sync_enabled: true,
      pems_base_url: sim.url,
      pems_tenant: 'B',
      pems_credential_encrypted: encryptCredential(apiKeys[i]!, parseCredentialKeys(keys), o),
    })),
  );
  const users = Array.from({ length: opts.users ?? 1 }, (_, i) => `bench-${org.toLowerCase()}-${i}`);
  for (let i = 0; i < users.length; i += 500) {
    const chunk = users.slice(i, i + 500);
    await db('app_user').insert(chunk.map((u) => ({ id: u, username: u })));
    await db('user_organization').insert(
      chunk.flatMap((u) => orgs.map((o) => ({ user_id: u, organization_id: o, perm_sync: true }))),
    );
  }
  // The mirror and its history, in bulk (one row per record at its seeded version; 5,000 rows per
  // statement keeps the bound parameters under Postgres's 65,535).
  const records = ids.map((id) => sim.control.getRecord(id)!) as PfaRecord[];
  for (let i = 0; i < records.length; i += BULK_ROWS) {
    const chunk = records.slice(i, i + BULK_ROWS);
    await db('pfa_mirror').insert(
      chunk.map((r) => ({
        organization_id: r.organization,
        pfa_id: r.pfaId,
        version: r.version,
        data: JSON.stringify(r),
      })),
    );
    await db('pfa_mirror_history').insert(
      chunk.map((r) => ({
        organization_id: r.organization,
        pfa_id: r.pfaId,
        version: r.version,
        data: JSON.stringify(r),
        origin: 'seed',
      })),
    );
  }
  const kafka = new Kafka({
    clientId: 'bench',
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const topics = { results: `bench.${org.toLowerCase()}.results`, dlq: `bench.${org.toLowerCase()}.dlq` };
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topics.results, topics.dlq].map((topic) => ({ topic, numPartitions: 6 })),
  });
  const groupId = `bench-${org.toLowerCase()}`;
  const ends = await admin.fetchTopicOffsets(cdcTopic);
  await admin.setOffsets({
    groupId,
    topic: cdcTopic,
    partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
  });
  await admin.disconnect();
  return {
    org,
    orgs,
    db,
    sim,
    records,
    users,
    keys,
    caFile,
    topics,
    groupId,
    cdcStart: new Map(ends.map((p) => [p.partition, p.high])),
    async close() {
      await sim.close();
      await db('organization').whereIn('id', orgs).update({ sync_enabled: false });
      await db.destroy();
    },
  };
}

/**
 * The sink as deployed (deploy/docker/Dockerfile, the Helm chart, docker-compose.yml): compiled
 * (run.ts builds it first) and with the chart's heap bound (BENCH_SINK_HEAP_MIB, default the
 * chart's 160 MiB; 0: Node's default).
 */
const SINK_HEAP_MIB = Number(process.env.BENCH_SINK_HEAP_MIB ?? 160);
/** More node flags for the sink, space-separated (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`). */
const SINK_NODE_ARGS = (process.env.BENCH_SINK_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);

/** Compiles the sink that spawnSink runs (npm run build): every benchmark calls this first. */
export function buildSink(): void {
  execSync('npm run --silent build', { stdio: 'inherit' });
}

export function spawnSink(b: BenchOrg, env: Record<string, string> = {}): SinkProcess {
  return spawnSinkProcess(
    {
      PEMS_SYNC_GROUP_ID: b.groupId,
      PEMS_SYNC_RESULT_TOPIC: b.topics.results,
      PEMS_SYNC_DLQ_TOPIC: b.topics.dlq,
      PEMS_SYNC_CREDENTIAL_KEYS: b.keys,
      PEMS_SYNC_PEMS_CA_FILE: b.caFile,
      PEMS_SYNC_HTTP_PORT: '0',
      PEMS_SYNC_LOG_LEVEL: 'error',
      PEMS_SYNC_ORGANIZATIONS: b.orgs.join(','),
      ...env,
      // Overrides for one run (e.g. a fixed ops port to read the sink's metrics while it runs).
      ...(JSON.parse(process.env.BENCH_SINK_ENV ?? '{}') as Record<string, string>),
    },
    {
      built: true,
      nodeArgs: [...(SINK_HEAP_MIB > 0 ? [`--max-old-space-size=${SINK_HEAP_MIB}`] : []), ...SINK_NODE_ARGS],
    },
  );
}

export async function commitBacklog(
  b: BenchOrg,
  deltas: (r: PfaRecord, i: number) => Record<string, unknown>,
  user = b.users[0]!,
): Promise<void> {
  const committedAt = new Date();
  for (let i = 0; i < b.records.length; i += BULK_ROWS) {
    await b.db('pfa_modification').insert(
      b.records.slice(i, i + BULK_ROWS).map((r, j) => ({
        organization_id: r.organization,
        pfa_id: r.pfaId,
        user_id: user,
        delta: JSON.stringify(deltas(r, i + j)),
        base_version: r.version,
        sync_status: 'committed',
        committed_at: committedAt,
      })),
    );
  }
}

/**
 * Until the CDC topic holds at least `n` more offsets than at the organization's setup and has
 * stopped growing for 3 s (offsets, not events: transaction markers take some too, hence the quiet).
 */
export async function waitOnCdcTopic(b: BenchOrg, n: number, timeoutMs = 900_000): Promise<void> {
  const kafka = new Kafka({
    clientId: 'bench-cdc-wait',
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const started = Date.now();
    const start = [...b.cdcStart.values()].reduce((a, o) => a + Number(o), 0);
    let last = -1;
    let quietSince = Date.now();
    for (;;) {
      const high = (await admin.fetchTopicOffsets(cdcTopic)).reduce((a, p) => a + Number(p.high), 0);
      if (high !== last) quietSince = Date.now();
      last = high;
      if (high - start >= n && Date.now() - quietSince >= 3000) return;
      if (Date.now() - started > timeoutMs)
        throw new Error(`${n} change events not on ${cdcTopic} in ${timeoutMs} ms (${high - start} offsets)`);
      await new Promise((res) => setTimeout(res, 250));
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until n modifications of the organizations have an outcome. The poll asks whether any
 * still waits (one row of the partial index pfa_modification_waiting), and counts the outcomes
 * only once none does: counting every outcome (or every waiting one) each 100 ms cost Postgres
 * ~100 µs of CPU per modification of a 10,000 backlog, which the report charged to pems-sync.
 */
export async function waitTerminal(b: BenchOrg, n: number, timeoutMs = 900_000): Promise<void> {
  const started = Date.now();
  const mods = () => b.db('pfa_modification').whereIn('organization_id', b.orgs);
  for (;;) {
    const waiting = (await mods().whereIn('sync_status', WAITING).first('id')) !== undefined;
    const done = waiting
      ? null
      : Number(((await mods().whereIn('sync_status', TERMINAL).count('* as n').first()) as { n: string }).n);
    if (done !== null && done >= n) return;
    if (Date.now() - started > timeoutMs)
      throw new Error(`${n} modifications not finished in ${timeoutMs} ms (${done ?? 'some still waiting, ?'} done)`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Latency percentiles (s) of synced modifications, and the span from the first to the last outcome. */
export async function latency(
  b: BenchOrg,
): Promise<{ p50: number; p95: number; p99: number; drainSeconds: number; outcomes: Record<string, number> }> {
  const lat = await b.db.raw(
    `SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM synced_at - committed_at)) AS p,
            extract(epoch FROM max(synced_at) - min(synced_at)) AS span
       FROM pfa_modification WHERE organization_id = ANY(?) AND sync_status = 'synced'`,
    [b.orgs],
  );
  const p = (lat.rows[0].p ?? [0, 0, 0]) as number[];
  const rows = (await b
    .db('pfa_modification')
    .whereIn('organization_id', b.orgs)
    .select('sync_status')
    .count('* as n')
    .groupBy('sync_status')) as Array<{ sync_status: string; n: string }>;
  const round = (x: unknown): number => Number(Number(x ?? 0).toFixed(2));
  return {
    p50: round(p[0]),
    p95: round(p[1]),
    p99: round(p[2]),
    drainSeconds: Math.max(0.001, round(lat.rows[0].span)),
    outcomes: Object.fromEntries(rows.map((r) => [r.sync_status, Number(r.n)])),
  };
}

export function batchRequests(b: BenchOrg): number {
  return Object.values(b.sim.control.stats().requests['POST /pfa/batch'] ?? {}).reduce((a, n) => a + n, 0);
}
