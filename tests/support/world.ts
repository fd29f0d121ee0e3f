/**
 * A world for sink tests: real Kafka, Postgres, Debezium and the registry, the PEMS simulator
 * over HTTPS, and one organization, one user and one consumer group, topics and records of
 * the test's own, so suites never see each other's data.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { loadConfig, type Config, type DeepPartial } from '../../schemas/config';
import { createDatabase } from '../../connectors/postgres/db';
import { applyMirrorVersion } from '../../connectors/postgres/mirror';
import { encryptCredential, parseCredentialKeys } from '../../connectors/pems';
import { startPemsSimulator, type PemsSimulator } from '../../connectors/pems-simulator';
import { startSink, type Sink } from '../../connectors/sink';
import { createLogger } from '../../connectors/observability';
import type { PfaRecord } from '../../streams/pfa-record';
import { testEnv, uniqueId } from './env';
import { collect, testKafka } from './kafka';
import { credentialKeys } from './fixtures';

export const TEST_CREDENTIAL_KEYS = credentialKeys('t1');

export interface World {
  org: string;
  user: string;
  apiKey: string;
  db: Knex;
  sim: PemsSimulator;
  config: Config;
  records: PfaRecord[];
  topics: { results: string; deadLetters: string };
  startSink(overrides?: DeepPartial<Config>): Promise<Sink>;
  /** The environment for this world's sink as its own process (tests/support/sink-process.ts). */
  sinkEnv(caFile: string): Record<string, string>;
  commit(input: {
    pfaId: string;
    delta: Record<string, unknown>;
    baseVersion?: number;
    user?: string;
    operation?: 'update' | 'delete';
    /** Commit inside this transaction (with whatever else it does), not on its own. */
    trx?: Knex.Transaction;
  }): Promise<string>;
  waitForOutcome(ids: string[], timeoutMs?: number): Promise<Array<Record<string, any>>>;
  readTopic(
    topic: string,
    count: number,
    timeoutMs?: number,
  ): Promise<Array<{ key: Buffer | null; value: Buffer | null; headers: Record<string, unknown> }>>;
  decodeResults(count: number): Promise<Array<Record<string, any>>>;
  close(): Promise<void>;
}

const TERMINAL = ['synced', 'conflict', 'rejected', 'failed', 'superseded'];

export async function createWorld(
  opts: { records?: number; rateLimitPerSecond?: number; syncEnabled?: boolean; permSync?: boolean } = {},
): Promise<World> {
  const org = uniqueId('S').replace(/-/g, '').slice(0, 20);
  const user = `u-${org.toLowerCase()}`;
  const apiKey = `key-${randomBytes(12).toString('hex')}`;
  const db = createDatabase({ url: testEnv.databaseUrl, poolMax: 4 });
  const sim = await startPemsSimulator({
    port: 0,
    testMode: true,
    rateLimitPerSecond: opts.rateLimitPerSecond ?? 0,
    credentials: [{ apiKey, tenant: 'TEST', organization: org }],
  });
  const ids = sim.control.seed({ organization: org, count: opts.records ?? 5, seed: 7 });
  const records = ids.map((id) => sim.control.getRecord(id)!);

  const ring = parseCredentialKeys(TEST_CREDENTIAL_KEYS);
  await db('organization').insert({
    id: org,
    name: `Sink test ${org}`,
    sync_enabled: opts.syncEnabled ?? true,
    pems_base_url: sim.url,
    pems_tenant: 'TEST',
    pems_credential_encrypted: encryptCredential(apiKey, ring, org),
  });
  await db('app_user').insert({ id: user, username: user });
  await db('user_organization').insert({ user_id: user, organization_id: org, perm_sync: opts.permSync ?? true });
  for (const r of records) await applyMirrorVersion(db, { record: r, origin: 'seed' });

  const suffix = org.toLowerCase();
  const topics = { results: `test.results.${suffix}`, deadLetters: `test.dlq.${suffix}` };
  const kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topics.results, topics.deadLetters].map((topic) => ({
      topic,
      numPartitions: 1,
      configEntries: [{ name: 'max.message.bytes', value: String(16 * 1024 * 1024) }],
    })),
  });

  const groupId = `test-sink-${suffix}`;
  // Start the group at the current end of the CDC topic: the test sees only its own events.
  const ends = await admin.fetchTopicOffsets(testEnv.cdcTopic);
  await admin.setOffsets({
    groupId,
    topic: testEnv.cdcTopic,
    partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
  });
  await admin.disconnect();

  const config = loadConfig(process.env, {
    database: { url: testEnv.databaseUrl, poolMax: 5 },
    kafka: { brokers: testEnv.kafkaBrokers, groupId, sessionTimeoutMs: 10000 },
    topics: { cdc: testEnv.cdcTopic, results: topics.results, deadLetters: topics.deadLetters },
    schemaRegistry: { url: testEnv.schemaRegistryUrl },
    redis: { url: testEnv.redisUrl },
    pems: { credentialKeys: TEST_CREDENTIAL_KEYS, timeoutMs: 2000 },
    retry: { delaysMs: [50, 100, 200], jitter: 0, outageThreshold: 5, probeIntervalMs: 100 },
    // Only this world's organization: sinks of other suites running at the same time on the
    // shared CDC topic never claim each other's modifications.
    sink: { shutdownTimeoutMs: 5000, organizations: [org] },
    http: { port: 0 },
    log: { level: 'warn' },
  });

  const sinks: Sink[] = [];
  const registry = new SchemaRegistry({ host: testEnv.schemaRegistryUrl });

  const world: World = {
    org,
    user,
    apiKey,
    db,
    sim,
    config,
    records,
    topics,
    async startSink(overrides = {}) {
      const merged = loadConfig(process.env, mergeDeep(config, overrides) as DeepPartial<Config>);
      const sink = await startSink(merged, {
        clientOverrides: { ca: sim.cert },
        logger: createLogger(merged.log.level, { test: org }),
      });
      sinks.push(sink);
      // Ready = a member of the group with partitions; wait for it so no event is missed.
      const start = Date.now();
      while (!sink.task.ready().ready) {
        if (Date.now() - start > 30000) throw new Error('sink did not join its consumer group');
        await new Promise((r) => setTimeout(r, 100));
      }
      return sink;
    },
    sinkEnv(caFile) {
      return {
        DATABASE_URL: testEnv.databaseUrl,
        KAFKA_BROKERS: testEnv.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: testEnv.schemaRegistryUrl,
        REDIS_URL: testEnv.redisUrl,
        PEMS_SYNC_GROUP_ID: config.kafka.groupId,
        PEMS_SYNC_CDC_TOPIC: config.topics.cdc,
        PEMS_SYNC_RESULT_TOPIC: topics.results,
        PEMS_SYNC_DLQ_TOPIC: topics.deadLetters,
        PEMS_SYNC_CREDENTIAL_KEYS: config.pems.credentialKeys,
        PEMS_SYNC_PEMS_CA_FILE: caFile,
        PEMS_SYNC_RETRY_DELAYS_MS: config.retry.delaysMs.join(','),
        PEMS_SYNC_SESSION_TIMEOUT_MS: '6000',
        PEMS_SYNC_HTTP_PORT: '0',
        PEMS_SYNC_LOG_LEVEL: 'error',
        PEMS_SYNC_ORGANIZATIONS: org,
      };
    },
    async commit({ pfaId, delta, baseVersion, user: u, operation, trx }) {
      const q = trx ?? db;
      const mirror = await q('pfa_mirror').where({ organization_id: org, pfa_id: pfaId }).first('version');
      const [row] = await q('pfa_modification')
        .insert({
          organization_id: org,
          pfa_id: pfaId,
          user_id: u ?? user,
          operation: operation ?? 'update',
          delta: JSON.stringify(delta),
          base_version: baseVersion ?? mirror?.version ?? 1,
          change_reason: 'test edit',
          sync_status: 'committed',
          committed_at: new Date(),
        })
        .returning('id');
      return row.id as string;
    },
    async waitForOutcome(ids, timeoutMs = 30000) {
      const start = Date.now();
      for (;;) {
        const rows = await db('pfa_modification').whereIn('id', ids).select('*');
        if (rows.length === ids.length && rows.every((r) => TERMINAL.includes(r.sync_status))) {
          return ids.map((id) => rows.find((r) => r.id === id)!);
        }
        if (Date.now() - start > timeoutMs) {
          throw new Error(
            `outcomes not reached in ${timeoutMs} ms: ${rows.map((r) => `${r.id}=${r.sync_status}`).join(', ')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async readTopic(topic, count, timeoutMs = 20000) {
      return collect(kafka, topic, {
        until: { count },
        pick: ({ message }) => ({ key: message.key, value: message.value, headers: message.headers ?? {} }),
        timeoutMs,
        groupId: `reader-${uniqueId('r').toLowerCase()}`,
        timeoutMessage: (n) => `read ${n}/${count} records from ${topic}`,
      });
    },
    async decodeResults(count) {
      const records = await world.readTopic(topics.results, count);
      return Promise.all(records.map(async (r) => (await registry.decode(r.value!)) as Record<string, any>));
    },
    async close() {
      await Promise.allSettled(sinks.map((s) => s.close()));
      await sim.close();
      await db.destroy();
    },
  };
  return world;
}

function mergeDeep(a: unknown, b: unknown): unknown {
  if (
    typeof a !== 'object' ||
    a === null ||
    Array.isArray(a) ||
    typeof b !== 'object' ||
    b === null ||
    Array.isArray(b)
  ) {
    return b === undefined ? a : b;
  }
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = mergeDeep(out[k], v);
  return out;
}

/** Writes a PEMS user made directly in PEMS, as the simulator counts them. */
export function writesApplied(world: World, pfaId: string): number {
  const stats = world.sim.control.stats() as { writesApplied: Record<string, number> };
  return stats.writesApplied[pfaId] ?? 0;
}
