/**
 * End-to-end world: the sink world of tests/support/world.ts (real Kafka, Postgres,
 * Debezium, registry, its own PEMS simulator, organization, topics and consumer group) plus the
 * control API built with buildControlApi and listening on port 0, driven over HTTP with HS256
 * bearer tokens the way the app does. Nothing here writes a row the sink or the API would write:
 * a test acts as a user (commit an edit, call the API) or as PEMS (simulator control).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Kafka } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { buildControlApi } from '../../connectors/control-api/server';
import type { Config } from '../../schemas/config';
import { call, JWT_SECRET, type ApiResponse } from '../integration/control-api/harness';
import { createWorld, type World } from '../support/world';
import { testEnv, uniqueId } from '../support/env';
import { collect, testKafka } from '../support/kafka';

export interface E2eWorld extends World {
  /** Administrators of the organization (is_admin + perm_sync): four eyes need two. */
  admin1: string;
  admin2: string;
  /** A member with perm_read only. */
  reader: string;
  /** The control API, listening on 127.0.0.1:<random port>. */
  api: FastifyInstance;
  apiUrl: string;
  /** One HTTP request to the control API with a bearer token for `user`. */
  request(user: string, method: 'GET' | 'POST', path: string, payload?: unknown): Promise<ApiResponse>;
  /**
   * The first `count` SyncResult records of this organization on the world's result topic,
   * decoded with the registry. The world's sink claims only its organization (sink.organizations),
   * so other organizations' records should never be here; they are skipped all the same, so a
   * stray record shows up as a missing one with its count rather than as a confusing mismatch.
   */
  results(count: number, timeoutMs?: number): Promise<Array<Record<string, any>>>;
  /** The first `count` dead-letter records of this organization (by key) on the world's DLQ topic. */
  deadLetterRecords(
    count: number,
    timeoutMs?: number,
  ): Promise<Array<{ key: Buffer | null; value: Buffer | null; headers: Record<string, unknown> }>>;
  /** The audit entries of a modification, oldest first. */
  auditOf(modificationId: string): Promise<Array<Record<string, any>>>;
}

export async function createE2eWorld(opts: Parameters<typeof createWorld>[0] = {}): Promise<E2eWorld> {
  const world = await createWorld(opts);
  let api: FastifyInstance | undefined;
  let caDir: string | undefined;
  try {
    // createWorld makes one perm_sync user; rollback approval needs two administrators of the
    // organization, and the read-only member shows the rights are checked on this path too.
    const admin1 = `${world.user}-admin1`;
    const admin2 = `${world.user}-admin2`;
    const reader = `${world.user}-reader`;
    await world.db('app_user').insert([admin1, admin2, reader].map((id) => ({ id, username: id })));
    await world.db('user_organization').insert([
      { user_id: admin1, organization_id: world.org, perm_read: true, perm_sync: true, is_admin: true },
      { user_id: admin2, organization_id: world.org, perm_read: true, perm_sync: true, is_admin: true },
      { user_id: reader, organization_id: world.org, perm_read: true, perm_sync: false, is_admin: false },
    ]);

    // GET /status probes the organization's PEMS /health over HTTPS: trust the simulator's
    // self-signed certificate through pems.caFile, as a deployment would.
    caDir = mkdtempSync(join(tmpdir(), 'pems-sync-e2e-'));
    const caFile = join(caDir, 'simulator-ca.pem');
    writeFileSync(caFile, world.sim.cert ?? '');
    // Same settings as the sink (database, topics, the sink's consumer group for the lag figure).
    const config: Config = {
      ...world.config,
      pems: { ...world.config.pems, caFile },
      controlApi: { ...world.config.controlApi, jwtSecret: JWT_SECRET },
    };
    const kafka: Kafka = testKafka(`e2e-control-api-${world.org.toLowerCase()}`);
    api = buildControlApi({ db: world.db, config, kafka, logger: false });
    const apiUrl = await api.listen({ host: '127.0.0.1', port: 0 });

    const registry = new SchemaRegistry({ host: testEnv.schemaRegistryUrl });
    const started = api;
    const dir = caDir;
    // Object.assign below replaces world.close: keep the sink world's own close to call.
    const closeWorld = world.close.bind(world);
    const e2e: E2eWorld = Object.assign(world, {
      admin1,
      admin2,
      reader,
      api: started,
      apiUrl,
      request: (user: string, method: 'GET' | 'POST', path: string, payload?: unknown) =>
        call({ url: apiUrl }, user, method, path, payload),
      results: (count: number, timeoutMs?: number) =>
        readOwn(kafka, world.topics.results, count, timeoutMs, async (m) => {
          const r = (await registry.decode(m.value!)) as Record<string, any>;
          return r.organizationId === world.org ? r : undefined;
        }),
      deadLetterRecords: (count: number, timeoutMs?: number) =>
        readOwn(kafka, world.topics.deadLetters, count, timeoutMs, async (m) => {
          // Dead letters keep Debezium's key: {"organization_id": ..., "pfa_id": ...}.
          let org: unknown;
          try {
            org = JSON.parse(m.key?.toString('utf8') ?? 'null')?.organization_id;
          } catch {
            org = undefined;
          }
          return org === world.org ? m : undefined;
        }),
      auditOf: (modificationId: string) =>
        world.db('audit_log').where({ modification_id: modificationId }).orderBy('id'),
      close: async () => {
        // The API first (it shares world.db and holds Kafka clients), then the sinks, the
        // simulator and the pool; each step runs even if an earlier one fails.
        await started.close().catch(() => undefined);
        await closeWorld();
        rmSync(dir, { recursive: true, force: true });
      },
    });
    return e2e;
  } catch (err) {
    await api?.close().catch(() => undefined);
    await world.close().catch(() => undefined);
    if (caDir) rmSync(caDir, { recursive: true, force: true });
    throw err;
  }
}

/** Reads `topic` from the beginning in a fresh group until `pick` returned `count` values. */
async function readOwn<T>(
  kafka: Kafka,
  topic: string,
  count: number,
  timeoutMs = 20000,
  pick: (m: { key: Buffer | null; value: Buffer | null; headers: Record<string, unknown> }) => Promise<T | undefined>,
): Promise<T[]> {
  return collect(kafka, topic, {
    until: { count },
    pick: ({ message }) => pick({ key: message.key, value: message.value, headers: message.headers ?? {} }),
    timeoutMs,
    groupId: uniqueId('e2e-reader').toLowerCase(),
    timeoutMessage: (n) => `read ${n}/${count} records of this organization from ${topic}`,
  });
}
