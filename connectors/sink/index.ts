/**
 * The sink connector, assembled: decode ▶ group ▶ check ▶ write ▶ record ▶ emit.
 *   task.ts     consume the CDC topic, decode, claim, offsets, lifecycle
 *   lanes.ts    group per PFA, check, write with retries, PEMS health
 *   write.ts    POST /pfa/batch micro-batching
 *   record.ts   one transaction per flush: statuses, mirror, audit, conflicts, dead letters, outbox
 *   emit.ts     outbox → result topic (Avro) and dead-letter topic
 */
import { writeFileSync } from 'node:fs';
import Redis from 'ioredis';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { Registry } from 'prom-client';
import type { Knex } from 'knex';
import type { Config } from '../../schemas/config';
import { redactConfig } from '../../schemas/config';
import { createDatabase } from '../postgres/db';
import { createLogger, createSinkMetrics, startOpsServer, type Logger, type OpsServer, type SinkMetrics } from '../observability';
import type { PemsClientOptions } from '../pems';
import { Claims } from './claims';
import { SyncContext } from './context';
import { Emitter } from './emit';
import { PemsHealth, PfaLanes } from './lanes';
import { Recorder } from './record';
import { SinkTask } from './task';
import { BatchWriter } from './write';

export interface SinkOptions {
  logger?: Logger;
  registry?: Registry;
  /** Options for every PEMS client (tests: the simulator's CA). */
  clientOverrides?: Partial<PemsClientOptions>;
  /** Start the /healthz, /readyz, /metrics server. Default true. */
  opsServer?: boolean;
  /** Work items in flight before fetching pauses. Default 5000. */
  maxInFlight?: number;
  /** Called when outcomes cannot be recorded and the sink stops itself (main.ts exits non-zero). */
  onFatal?: (err: unknown) => void;
}

export interface Sink {
  task: SinkTask;
  metrics: SinkMetrics;
  registry: Registry;
  db: Knex;
  ops: OpsServer | null;
  /** Idempotent graceful stop. */
  close(): Promise<void>;
  /** Resolves once the sink has stopped, whoever stopped it. */
  closed: Promise<void>;
}

/** kafkajs messages for conditions it retries itself (see kafkaFor). */
const RETRIED_BY_KAFKAJS = /coordinator is loading|another concurrent operation on the same transaction|coordinator is not available|not the coordinator|rebalanc|leadership election|not the leader|KAFKAJS_NO_PARTITIONER_WARNING|switched default partitioner/i;

export function kafkaFor(config: Config, logger: Logger): Kafka {
  const sasl: SASLOptions | undefined =
    config.kafka.saslMechanism === ''
      ? undefined
      : ({ mechanism: config.kafka.saslMechanism, username: config.kafka.saslUsername, password: config.kafka.saslPassword } as SASLOptions);
  return new Kafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.brokers,
    ssl: config.kafka.ssl,
    sasl,
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log }) => {
      const { message, ...extra } = log;
      // kafkajs reports conditions it retries by itself (a coordinator still loading, a transaction still ending (CONCURRENT_TRANSACTIONS), a group
      // rebalancing, a leader moving) at ERROR; they are not errors of ours: debug, like its retries.
      const transient = RETRIED_BY_KAFKAJS.test(`${message} ${String((extra as { error?: unknown }).error ?? '')}`);
      const fn = transient ? 'debug' : level <= logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : 'debug';
      logger[fn]({ kafkajs: extra }, message);
    },
  });
}

export async function startSink(config: Config, options: SinkOptions = {}): Promise<Sink> {
  const logger = options.logger ?? createLogger(config.log.level, { component: 'sink' });
  logger.info({ config: redactConfig(config) }, 'starting pems-sync sink');
  const registry = options.registry ?? new Registry();
  const metrics = createSinkMetrics(registry);
  const db = createDatabase({ url: config.database.url, poolMax: config.database.poolMax, applicationName: 'pems-sync-sink' });
  const redis = config.redis.url ? new Redis(config.redis.url, { maxRetriesPerRequest: 3, lazyConnect: false }) : null;
  const kafka = kafkaFor(config, logger);

  const emitter = new Emitter({
    kafka,
    db,
    registryUrl: config.schemaRegistry.url,
    registryAuth: config.schemaRegistry.username ? { username: config.schemaRegistry.username, password: config.schemaRegistry.password } : undefined,
    resultsTopic: config.topics.results,
    transactionalIdPrefix: config.kafka.groupId,
    afterProduce: config.sink.testEmitPauseFile
      ? async (rows) => {
          writeFileSync(config.sink.testEmitPauseFile, `${rows}\n`);
          await new Promise((r) => setTimeout(r, 5000));
        }
      : undefined,
  });
  await emitter.start();
  const leftover = await emitter.drainAll();
  if (leftover > 0 || emitter.alreadyEmitted > 0) {
    logger.info({ records: leftover, alreadyOnTopics: emitter.alreadyEmitted, transactionalId: emitter.transactionalId }, 'emitted outbox records left by a previous run');
  }

  const context = new SyncContext({
    db, config, redis, registry, clientOverrides: options.clientOverrides,
    // One warning per organization and change: its edits fail with this reason until it is fixed.
    onProblem: (organization, p) => logger.warn({ organization, setting: p.setting, reason: p.reason }, `organization ${organization} is misconfigured (${p.setting}): ${p.reason}`),
  });
  let task: SinkTask | null = null;
  const health = new PemsHealth({
    threshold: config.retry.outageThreshold,
    probeIntervalMs: config.retry.probeIntervalMs,
    onChange: (orgId, state) => {
      metrics.pemsReachable.set(state === 'up' ? 1 : 0);
      metrics.pemsOrganizationReachable.set({ organization: orgId }, state === 'up' ? 1 : 0);
      task?.pemsStateChanged(state);
      if (state === 'down') {
        void db('notification')
          .insert({ organization_id: orgId, user_id: null, kind: 'pems_unreachable', payload: JSON.stringify({ since: new Date().toISOString() }) })
          .catch((err: unknown) => logger.error({ err }, 'could not record the PEMS outage notification'));
      }
    },
  });
  metrics.pemsReachable.set(1);
  const writer = new BatchWriter({
    batchSize: config.pems.batchSize,
    beforeSend: async (organization, items) => {
      const rows = items
        .filter((i) => i.modificationIds.length > 0)
        .map((i) => ({
          idempotency_key: i.item.idempotencyKey,
          organization_id: organization,
          pfa_id: i.item.pfaId,
          modification_ids: [...i.modificationIds],
          item: JSON.stringify(i.item),
        }));
      if (rows.length > 0) await db('pems_write_intent').insert(rows).onConflict('idempotency_key').merge(['item', 'created_at']);
    },
    onRequest: (r) => {
      metrics.pemsRequests.inc({ endpoint: r.endpoint, status: r.ok ? 'ok' : (r.errorClass ?? 'error') });
      metrics.pemsRequestSeconds.observe({ endpoint: r.endpoint }, r.seconds);
      health.record(r.organization, r.ok || r.errorClass !== 'transient' ? 'success' : 'transient');
    },
  });
  const recorder = new Recorder({
    db,
    emitter,
    topics: { results: config.topics.results, deadLetters: config.topics.deadLetters },
    connectorName: config.sink.connectorName,
    onDurable: (positions, entries) => {
      task?.markDone(
        positions,
        entries.flatMap((e) => (e.kind === 'outcome' ? e.modifications.map((m) => m.modification.id) : [])),
      );
      for (const e of entries) {
        if (e.kind === 'poison') continue;
        if (e.outcome.kind === 'failed') metrics.deadLetters.inc({ reason: e.outcome.error.code }, e.modifications.length);
      }
    },
    onError: (err) => {
      if (closing) return; // stopping anyway; what is unrecorded is redelivered
      logger.fatal({ err }, 'outcomes could not be recorded; stopping so that Kafka redelivers them');
      options.onFatal?.(err);
      void sink.close();
    },
  });
  const lanes = new PfaLanes({
    writer,
    recorder,
    health,
    // A record that keeps moving (child records posting every few seconds) is rechecked more
    // than once: each 409 means a fresh GET and a new decision, never a blind retry.
    retry: { delaysMs: config.retry.delaysMs, jitter: config.retry.jitter, maxRechecks: 5 },
    onOutcome: (outcome, _write, n, modifications) => {
      metrics.modifications.inc({ outcome: outcome.kind }, n);
      // At PEMS's acknowledgement, not after the record transaction and the emit (issue 16).
      const now = Date.now();
      if (outcome.kind === 'synced') for (const { modification: m } of modifications) if (m.committedAt) metrics.commitToPems.observe(Math.max(0, (now - Date.parse(m.committedAt)) / 1000));
      if (outcome.kind === 'conflict') metrics.conflicts.inc(n);
    },
  });
  const claims = new Claims({ db, leaseMs: config.sink.claimLeaseMs, logger });
  await claims.start();
  task = new SinkTask({
    kafka,
    db,
    context,
    lanes,
    recorder,
    claims,
    health,
    logger,
    metrics,
    topic: config.topics.cdc,
    groupId: config.kafka.groupId,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    maxDeltaBytes: config.sink.maxDeltaBytes,
    maxInFlight: options.maxInFlight ?? 5000,
    shutdownTimeoutMs: config.sink.shutdownTimeoutMs,
    organizations: config.sink.organizations,
  });
  await task.start();
  const ops =
    options.opsServer === false
      ? null
      : await startOpsServer({ host: config.http.host, port: config.http.port, registry, liveness: () => task!.alive(), readiness: () => task!.ready() });
  logger.info({ topic: config.topics.cdc, group: config.kafka.groupId, opsPort: ops?.port }, 'sink running');

  let closing: Promise<void> | null = null;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((r) => (markClosed = r));
  const sink: Sink = {
    closed,
    task,
    metrics,
    registry,
    db,
    ops,
    close: () => {
      closing ??= (async () => {
        // Each step runs even if an earlier one fails: a stuck consumer must not keep the DB open.
        const steps: Array<[string, () => Promise<unknown>]> = [
          ['task', () => task!.stop()],
          // After the task: what it leaves in 'syncing' can be taken over at once.
          ['claims', () => claims.stop()],
          ['emitter', () => emitter.close()],
          ['pems clients', () => context.close()],
          ['redis', async () => redis?.quit()],
          ['ops server', async () => ops?.close()],
          ['database', () => db.destroy()],
        ];
        for (const [name, step] of steps) {
          await step().catch((err: unknown) => logger.error({ err, step: name }, 'shutdown step failed'));
        }
        logger.info('sink stopped');
        markClosed();
      })();
      return closing;
    },
  };
  return sink;
}
