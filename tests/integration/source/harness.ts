/**
 * Set-up for the read-side tests: per test an organization (uniqueId) with an encrypted
 * credential in Postgres, an in-process PEMS simulator over HTTPS, its own raw and dead-letter
 * topics and consumer group, and the real Kafka, Postgres and Redis of the local stack.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { Registry } from 'prom-client';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { startPemsSimulator, type PemsSimulator } from '../../../connectors/pems-simulator';
import { encryptCredential, parseCredentialKeys, type CredentialKeyRing } from '../../../connectors/pems';
import { createDatabase } from '../../../connectors/postgres/db';
import {
  MirrorStream,
  PemsPoller,
  createSourceMetrics,
  type MirrorStreamOptions,
  type PollerOptions,
  type SourceMetrics,
} from '../../../connectors/source';
import { testEnv, uniqueId } from '../../support/env';
import { collect, testKafka } from '../../support/kafka';
import { credentialKeys } from '../../support/fixtures';

export interface ReadSideFixture {
  org: string;
  userId: string;
  db: Knex;
  kafka: Kafka;
  admin: Admin;
  sim: PemsSimulator;
  keyRing: CredentialKeyRing;
  rawTopic: string;
  dlqTopic: string;
  groupId: string;
  registry: Registry;
  metrics: SourceMetrics;
  poller(options?: Partial<PollerOptions>): PemsPoller;
  mirror(options?: Partial<MirrorStreamOptions>): Promise<MirrorStream>;
  close(): Promise<void>;
}

export async function readSide(name: string): Promise<ReadSideFixture> {
  const org = uniqueId(name).replace(/-/g, '');
  const apiKey = `key-${randomUUID()}`;
  const tenant = 'TEST';
  const keyRing = parseCredentialKeys(credentialKeys('t1'));
  const sim = await startPemsSimulator({
    port: 0,
    testMode: true,
    rateLimitPerSecond: 10,
    credentials: [{ apiKey, tenant, organization: org }],
  });
  const db = createDatabase({ url: testEnv.databaseUrl, poolMax: 5, applicationName: 'pems-sync-source-test' });
  const kafka = testKafka(`source-test-${org.toLowerCase()}`);
  const admin = kafka.admin();
  await admin.connect();
  const rawTopic = `test.source.${org.toLowerCase()}.raw`;
  const dlqTopic = `test.source.${org.toLowerCase()}.dlq`;
  const groupId = `test-source-${org.toLowerCase()}`;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: rawTopic, numPartitions: 3 },
      { topic: dlqTopic, numPartitions: 1 },
    ],
  });
  const userId = `u-${org}`;
  await db('organization').insert({
    id: org,
    name: `read side ${name}`,
    sync_enabled: true,
    pems_base_url: sim.url,
    pems_tenant: tenant,
    pems_credential_encrypted: encryptCredential(apiKey, keyRing, org),
  });
  await db('app_user').insert({ id: userId, username: `user-${org}` });
  const registry = new Registry();
  const metrics = createSourceMetrics(registry);
  const pollers: PemsPoller[] = [];
  const streams: MirrorStream[] = [];

  return {
    org,
    userId,
    db,
    kafka,
    admin,
    sim,
    keyRing,
    rawTopic,
    dlqTopic,
    groupId,
    registry,
    metrics,
    poller(options = {}) {
      const p = new PemsPoller({
        db,
        kafka,
        topic: rawTopic,
        keyRing,
        pageSize: 500,
        pollIntervalMs: 200,
        pems: { ca: sim.cert, timeoutMs: 5000, rateLimitPerSecond: 10, retries: 0 },
        redis: testEnv.redisUrl,
        rateLimiterKeyPrefix: `test:${org}:`,
        organizations: [org],
        metrics,
        ...options,
      });
      pollers.push(p);
      return p;
    },
    async mirror(options = {}) {
      const s = new MirrorStream({
        kafka,
        db,
        topic: rawTopic,
        deadLetterTopic: dlqTopic,
        groupId,
        sessionTimeoutMs: 10_000,
        metrics,
        ...options,
      });
      streams.push(s);
      await s.start();
      return s;
    },
    async close() {
      await Promise.allSettled([...pollers.map((p) => p.stop()), ...streams.map((s) => s.stop())]);
      // The audit log is append-only, so the organization row stays; switched off, no poller picks it up.
      await db('organization')
        .where({ id: org })
        .update({ sync_enabled: false })
        .catch(() => undefined);
      await admin.deleteTopics({ topics: [rawTopic, dlqTopic] }).catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
      await sim.close();
      await db.destroy();
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after timeoutMs. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Every message of a topic up to its current end (high watermarks taken at the start). */
export async function readTopic(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  timeoutMs = 30_000,
): Promise<KafkaMessage[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const remaining = new Map(
    ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]),
  );
  return collect(kafka, topic, {
    until: { ends: remaining },
    pick: ({ message }) => message,
    timeoutMs,
    maxWaitTimeInMs: 200,
    timeoutMessage: (n) => `read ${n} messages of ${topic} below the end offsets ${JSON.stringify([...remaining])}`,
    afterDisconnect: (groupId) => admin.deleteGroups([groupId]).catch(() => undefined),
  });
}

export async function mirrorRow(
  db: Knex,
  org: string,
  pfaId: string,
): Promise<{ version: number; data: Record<string, unknown> } | undefined> {
  const r = await db('pfa_mirror').where({ organization_id: org, pfa_id: pfaId }).first('version', 'data');
  return r ? { version: Number(r.version), data: r.data } : undefined;
}

export async function historyVersions(
  db: Knex,
  org: string,
  pfaId?: string,
): Promise<Array<{ pfa_id: string; version: number }>> {
  const q = db('pfa_mirror_history')
    .where({ organization_id: org })
    .orderBy(['pfa_id', 'version'])
    .select('pfa_id', 'version');
  if (pfaId) q.where({ pfa_id: pfaId });
  return (await q).map((r: { pfa_id: string; version: number }) => ({ pfa_id: r.pfa_id, version: Number(r.version) }));
}
