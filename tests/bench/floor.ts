/**
 * `npm run bench:floor`: what the chosen libraries cost per modification on their own, with none
 * of pems-sync's logic: the floor under the sink's CPU per modification (issue 16 asks ≤ 100 µs).
 *
 * Each stage does only what any sink must do for one modification, through the library and the
 * settings the sink uses, against the local stack, and reports this process's CPU (user + system,
 * process.cpuUsage, garbage collection included) per modification over the stage's window; the
 * peer's CPU is given beside it (the Postgres backend serving the stage, the simulator process):
 *   consume  N change events of the CDC topic (at least: every fetched batch is counted whole),
 *            fetched by a kafkajs consumer with the sink's fetch settings and partitions consumed at
 *            once, each key and value parsed from JSON, offsets resolved and committed per batch;
 *   produce  N result records (schemas/avro/sync-result.avsc) encoded through the registry client,
 *            one awaited encode each as the emitter does, sent in kafkajs transactions of 5,000
 *            (idempotent, acks all, the sink's partitioner) with the emitter's two headers;
 *   record   N outcomes in Postgres through knex + pg, flushes of 150 in one transaction each: one
 *            UPDATE of their statuses from a JSON array and one INSERT of their records' new
 *            versions (the JSON document), in scratch tables dropped afterwards;
 *   write    N items to the PEMS simulator (its own process, rate limit off) over HTTPS with axios
 *            and a keep-alive agent, 100 per POST /pfa/batch.
 * The stages run one after another, so their figures add up to the floor of one modification. Each
 * window opens after a full garbage collection (node --expose-gc), so what setting a stage up
 * allocated is not charged to it.
 *
 * Every stage runs FLOOR_PASSES times in one process: the first pass is as cold as the sink a
 * benchmark starts for each workload (its code not yet compiled by the JIT), the later ones warm.
 *
 *   FLOOR_N           modifications per stage (default 10000)
 *   FLOOR_PASSES      passes over the stages (default 2)
 *   FLOOR_STAGES      comma-separated subset of consume,produce,record,write (default all)
 *   FLOOR_OUT         report path (default reports/floor-<time>.json)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import axios from 'axios';
import { Kafka, logLevel } from 'kafkajs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { createDatabase } from '../../connectors/postgres/db';
import { javaCompatiblePartitioner } from '../../connectors/kafka/partitioner';
import { makeRecords } from '../../connectors/pems-simulator/seed';
import { SETTINGS } from '../../schemas/config';
import { freePort } from '../support/monitoring';
import { treeSeconds } from './cpu';
import { cdcTopic } from './setup';
import { uptime } from './measure';

const N = Number(process.env.FLOOR_N ?? 10_000);
const PASSES = Number(process.env.FLOOR_PASSES ?? 2);
const STAGES = (process.env.FLOOR_STAGES ?? 'consume,produce,record,write').split(',').map((s) => s.trim());
/** About what one flush held in a 10,000 backlog (some 70 flushes; sink.flushMaxEntries bounds it at 2,000). */
const FLUSH = 150;
/** The sink's default sink.partitionsConsumedConcurrently. */
const PARTITIONS_CONCURRENTLY = Number(SETTINGS['sink.partitionsConsumedConcurrently'].default);
const STAGE_TIMEOUT_MS = 300_000;
const TRANSACTION = 5000;
const BATCH = 100;

export interface StageResult {
  stage: string;
  modifications: number;
  seconds: number;
  /** This process: user + system µs per modification. */
  cpuMicrosPerModification: number;
  userMicrosPerModification: number;
  systemMicrosPerModification: number;
  /** The peer serving the stage (Postgres backend, simulator), µs per modification, when known. */
  peerCpuMicrosPerModification?: number;
  note: string;
}

export interface FloorReport {
  at: string;
  node: string;
  execArgv: string[];
  nodeOptions: string;
  /** FLOOR_N; each stage's own count is in its result (consume counts whole fetches). */
  modificationsPerStage: number;
  uptimeBefore: string;
  uptimeAfter: string;
  passes: Array<{ pass: number; stages: StageResult[]; floorCpuMicrosPerModification: number }>;
}

/** A full collection (node --expose-gc, as npm run bench:floor and the bench start it), else nothing. */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** One stage's figures from its window, printed as a JSON line. */
function stageResult(
  stage: string,
  n: number,
  cpu: NodeJS.CpuUsage,
  nanoseconds: bigint,
  note: string,
  peerSeconds?: number,
): StageResult {
  const r: StageResult = {
    stage,
    modifications: n,
    seconds: Math.round(Number(nanoseconds) / 1e6) / 1000,
    cpuMicrosPerModification: Math.round((cpu.user + cpu.system) / n),
    userMicrosPerModification: Math.round(cpu.user / n),
    systemMicrosPerModification: Math.round(cpu.system / n),
    ...(peerSeconds !== undefined ? { peerCpuMicrosPerModification: Math.round((peerSeconds * 1e6) / n) } : {}),
    note,
  };
  process.stdout.write(`${JSON.stringify(r)}\n`);
  return r;
}

/** Measures fn's window: this process's CPU and wall time, and a peer's CPU seconds (from /proc). */
async function window(
  stage: string,
  n: number,
  note: string,
  fn: () => Promise<void>,
  peerSeconds?: () => number,
): Promise<StageResult> {
  // What was allocated to set the stage up is collected before the window opens.
  collectGarbage();
  const peer0 = peerSeconds?.();
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  const t = process.hrtime.bigint() - t0;
  const peer = peerSeconds && peer0 !== undefined ? peerSeconds() - peer0 : undefined;
  return stageResult(stage, n, c, t, note, peer);
}

const kafka = new Kafka({
  clientId: 'bench-floor',
  brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  logLevel: logLevel.NOTHING,
});

/**
 * Change events of the CDC topic from its beginning (a fresh group), at least N of them. The window
 * opens once the group is joined (the benchmarks' sink has joined before a workload is committed)
 * and counts every event handed to eachBatch: kafkajs decodes a whole fetch before eachBatch sees
 * it, so a fetch is counted whole, not cut at N.
 */
async function consume(): Promise<StageResult> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(cdcTopic);
  await admin.disconnect();
  const available = offsets.reduce((a, p) => a + Number(p.high) - Number(p.low), 0);
  if (available === 0) throw new Error(`the CDC topic ${cdcTopic} holds no change events: run a workload first`);
  const n = Math.min(N, available);
  if (n < N) process.stderr.write(`floor: the CDC topic holds ${available} events, consuming ${n}\n`);
  const consumer = kafka.consumer({
    groupId: `bench-floor-${Date.now().toString(36)}`,
    maxBytesPerPartition: 1_048_576,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: cdcTopic, fromBeginning: true });
  let seen = 0;
  let bytes = 0;
  let counted = 0;
  let c0: NodeJS.CpuUsage | null = null;
  let t0 = 0n;
  let c: NodeJS.CpuUsage | null = null;
  let t1 = 0n;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`consume: ${seen} of ${n} change events in ${STAGE_TIMEOUT_MS} ms`)),
        STAGE_TIMEOUT_MS,
      );
      const fail = (err: unknown): void => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      consumer.on(consumer.events.CRASH, (e) => fail(e.payload.error));
      consumer.on(consumer.events.GROUP_JOIN, () => {
        collectGarbage();
        c0 = process.cpuUsage();
        t0 = process.hrtime.bigint();
      });
      consumer
        .run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: PARTITIONS_CONCURRENTLY,
          eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
            for (const m of batch.messages) {
              const key = m.key ? (JSON.parse(m.key.toString('utf8')) as unknown) : null;
              const value = m.value ? (JSON.parse(m.value.toString('utf8')) as { after?: unknown }) : null;
              if (key !== null && value !== null) counted++;
              bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
              resolveOffset(m.offset);
              seen++;
            }
            const next = (BigInt(batch.lastOffset()) + 1n).toString();
            await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
            await heartbeat();
            if (seen >= n && c === null) {
              c = process.cpuUsage(c0 ?? undefined);
              t1 = process.hrtime.bigint();
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(fail);
    });
  } finally {
    await consumer.disconnect();
  }
  const cpu = c as NodeJS.CpuUsage | null;
  if (cpu === null || c0 === null) throw new Error('consume: the window never opened (no group join seen)');
  return stageResult(
    'consume',
    seen,
    cpu,
    t1 - t0,
    `kafkajs consumer, ${PARTITIONS_CONCURRENTLY} partitions at once, offsets committed per batch, JSON key and value parsed (${counted} with both), ${Math.round(bytes / seen)} bytes per event`,
  );
}

async function produce(): Promise<StageResult> {
  const stamp = Date.now().toString(36);
  const topic = `bench.floor.${stamp}`;
  const subject = `${topic}-value`;
  const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({
    transactionalId: `bench-floor-${stamp}`,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 30_000,
    allowAutoTopicCreation: false,
    createPartitioner: javaCompatiblePartitioner,
  });
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 6 }] });
    const registry = new SchemaRegistry({ host: registryUrl });
    const schema = readFileSync(join(__dirname, '../../schemas/avro/sync-result.avsc'), 'utf8');
    const { id } = await registry.register({ type: SchemaType.AVRO, schema }, { subject });
    await producer.connect();
    const now = Date.now();
    const values = Array.from({ length: N }, (_, i) => ({
      modificationId: randomUUID(),
      organizationId: 'FLOOR',
      pfaId: `FLOOR-${String(i).padStart(6, '0')}`,
      userId: 'bench-floor-user-0',
      outcome: 'SYNCED',
      baseVersion: 3,
      pemsVersionBefore: 3,
      pemsVersionAfter: 4,
      fieldsWritten: ['notes'],
      rebased: false,
      attempts: 1,
      error: null,
      committedAt: now - 2000,
      syncedAt: now,
      latencyMs: 2000,
      detail: null,
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      coalescedWith: [],
    }));
    return await window(
      'produce',
      N,
      `registry encode awaited per record, transactions of ${TRANSACTION}`,
      async () => {
        for (let i = 0; i < N; i += TRANSACTION) {
          const messages = [];
          for (const v of values.slice(i, i + TRANSACTION)) {
            messages.push({
              key: Buffer.from(JSON.stringify({ organization_id: v.organizationId, pfa_id: v.pfaId })),
              value: await registry.encode(id, v),
              headers: {
                traceparent: `00-${v.traceId}-00f067aa0ba902b7-01`,
                'pems-sync-outbox-id': String(i + messages.length),
              },
            });
          }
          const txn = await producer.transaction();
          await txn.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
          await txn.commit();
        }
      },
    );
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    // The scratch subject goes too (soft, then permanent: the registry's two-step delete).
    for (const permanent of [false, true])
      await axios
        .delete(`${registryUrl}/subjects/${encodeURIComponent(subject)}`, { params: permanent ? { permanent } : {} })
        .catch(() => undefined);
  }
}

async function record(): Promise<StageResult> {
  const db = createDatabase({ url: process.env.DATABASE_URL!, poolMax: 1, applicationName: 'pems-sync-floor' });
  const stamp = Date.now().toString(36);
  const status = `floor_status_${stamp}`;
  const mirror = `floor_mirror_${stamp}`;
  try {
    await db.raw(
      `CREATE TABLE ${status} (id uuid PRIMARY KEY, sync_status text NOT NULL, sync_error jsonb, pems_version_after int,
        attempts int NOT NULL DEFAULT 0, synced_at timestamptz, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await db.raw(
      `CREATE TABLE ${mirror} (organization_id text, pfa_id text, version int, data jsonb NOT NULL,
        PRIMARY KEY (organization_id, pfa_id, version))`,
    );
    const ids = Array.from({ length: N }, () => randomUUID());
    for (let i = 0; i < N; i += 5000)
      await db(status).insert(ids.slice(i, i + 5000).map((id) => ({ id, sync_status: 'queued' })));
    // Statistics, as the sink's tables have: the update's plan is the one a live table gets.
    await db.raw(`ANALYZE ${status}`);
    await db.raw(`ANALYZE ${mirror}`);
    // A record as the simulator seeds it (the mirror's document).
    const doc = makeRecords({
      organization: 'FLOOR',
      count: 1,
      seed: 1,
      updatedAt: () => new Date().toISOString(),
    })[0]!;
    const pid = Number((await db.raw('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    const now = new Date().toISOString();
    return await window(
      'record',
      N,
      `knex + pg, flushes of ${FLUSH} in a transaction: one status UPDATE from a JSON array, one INSERT of the records (${JSON.stringify(doc).length} bytes of JSON each)`,
      async () => {
        for (let i = 0; i < N; i += FLUSH) {
          const chunk = ids.slice(i, i + FLUSH);
          await db.transaction(async (trx) => {
            await trx.raw(
              `UPDATE ${status} m SET sync_status = u.status, sync_error = u.error, pems_version_after = u.version,
                      attempts = m.attempts + u.attempts, synced_at = u.synced_at, updated_at = now()
                 FROM jsonb_to_recordset(?::jsonb) AS u(id uuid, status text, error jsonb, version int, attempts int, synced_at timestamptz)
                WHERE m.id = u.id`,
              [
                JSON.stringify(
                  chunk.map((id) => ({ id, status: 'synced', error: null, version: 4, attempts: 1, synced_at: now })),
                ),
              ],
            );
            await trx.raw(
              `INSERT INTO ${mirror} (organization_id, pfa_id, version, data)
               SELECT organization_id, pfa_id, version, data
                 FROM jsonb_to_recordset(?::jsonb) AS x(organization_id text, pfa_id text, version int, data jsonb)`,
              [
                JSON.stringify(
                  chunk.map((id, j) => ({
                    organization_id: 'FLOOR',
                    pfa_id: `FLOOR-${i + j}`,
                    version: 4,
                    data: { ...doc, pfaId: `FLOOR-${i + j}`, notes: id },
                  })),
                ),
              ],
            );
          });
        }
      },
      () => treeSeconds(pid),
    );
  } finally {
    await db.raw(`DROP TABLE IF EXISTS ${status}, ${mirror}`).catch(() => undefined);
    await db.destroy();
  }
}

async function write(): Promise<StageResult> {
  const port = await freePort();
  const certDir = mkdtempSync(join(tmpdir(), 'bench-floor-'));
  const certFile = join(certDir, 'ca.pem');
  const sim: ChildProcess = spawn(
    process.execPath,
    [
      join(__dirname, '../../node_modules/tsx/dist/cli.mjs'),
      join(__dirname, '../../connectors/pems-simulator/main.ts'),
    ],
    {
      env: {
        ...process.env,
        PEMS_SIM_PORT: String(port),
        PEMS_SIM_RATE_LIMIT: '0',
        PEMS_SIM_SEED: String(N),
        PEMS_SIM_ORGS: 'FLOOR',
        PEMS_SIM_CERT_FILE: certFile,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  try {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
    const deadline = Date.now() + 60_000;
    while (!existsSync(certFile)) {
      if (Date.now() > deadline) throw new Error('the simulator did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    agent.options.ca = readFileSync(certFile, 'utf8');
    const http = axios.create({
      baseURL: `https://127.0.0.1:${port}/api/pems`,
      httpsAgent: agent,
      headers: { tenant: 'PEMS', organization: 'FLOOR', authorization: 'Bearer dev-FLOOR', accept: 'application/json' },
      maxRedirects: 0,
    });
    for (;;) {
      try {
        await http.get('/health');
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const records: Array<{ pfaId: string; version: number }> = [];
    let cursor: string | undefined;
    do {
      const { data } = await http.get('/pfa', { params: { limit: 500, ...(cursor ? { cursor } : {}) } });
      const page = data as { records: Array<{ pfaId: string; version: number }>; nextCursor: string | null };
      for (const r of page.records) records.push({ pfaId: r.pfaId, version: r.version });
      cursor = page.nextCursor ?? undefined;
    } while (cursor && records.length < N);
    const n = Math.min(N, records.length);
    let updated = 0;
    const result = await window(
      'write',
      n,
      `axios over HTTPS (keep-alive), ${BATCH} items per POST /pfa/batch; the peer is the simulator process`,
      async () => {
        for (let i = 0; i < n; i += BATCH) {
          const items = records.slice(i, i + BATCH).map((r) => ({
            pfaId: r.pfaId,
            version: r.version,
            changes: { notes: `floor ${r.pfaId}` },
            modifiedBy: 'bench-floor-user-0',
            idempotencyKey: randomUUID(),
          }));
          const { data } = await http.post('/pfa/batch', { organizationCode: 'FLOOR', items });
          for (const res of (data as { results: Array<{ status: string }> }).results)
            if (res.status === 'updated') updated++;
        }
      },
      () => treeSeconds(sim.pid!),
    );
    if (updated !== n) process.stderr.write(`floor: ${updated} of ${n} items updated\n`);
    agent.destroy();
    return { ...result, note: `${result.note}; ${updated} of ${n} updated` };
  } finally {
    sim.kill('SIGTERM');
    rmSync(certDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const load = uptime();
  const passes: FloorReport['passes'] = [];
  for (let pass = 1; pass <= PASSES; pass++) {
    const results: StageResult[] = [];
    if (STAGES.includes('consume')) results.push(await consume());
    if (STAGES.includes('produce')) results.push(await produce());
    if (STAGES.includes('record')) results.push(await record());
    if (STAGES.includes('write')) results.push(await write());
    const floor = results.reduce((a, r) => a + r.cpuMicrosPerModification, 0);
    passes.push({ pass, stages: results, floorCpuMicrosPerModification: floor });
    process.stdout.write(`floor, pass ${pass}: ${floor} µs of CPU per modification over ${results.length} stages\n`);
  }
  const out = process.env.FLOOR_OUT ?? join('reports', `floor-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(out), { recursive: true });
  const report: FloorReport = {
    at: new Date().toISOString(),
    node: process.version,
    execArgv: process.execArgv,
    nodeOptions: process.env.NODE_OPTIONS ?? '',
    modificationsPerStage: N,
    uptimeBefore: load,
    uptimeAfter: uptime(),
    passes,
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`floor: written to ${out}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`floor: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
