/**
 * The sink connector, assembled: decode ▶ claim ▶ check ▶ group ▶ write ▶ record ▶ emit.
 *   task.ts       consume the CDC topic, decode (streams/envelope.ts), lifecycle
 *   claims.ts     claim: committed → syncing, owned by this instance
 *   ledger.ts     offsets, in-flight and waiting events, takeover; the recorder reports durability here
 *   check.ts      check: load the context, reject before any PEMS call (streams/precheck.ts)
 *   lanes.ts      group: one lane per PFA, commit order, folded writes
 *   pems-write.ts write: one coalesced write against PEMS (resume, decide, send, retry, recheck, split)
 *   write.ts      POST /pfa/batch micro-batching, write-ahead intents
 *   health.ts     PEMS reachability: outage detection, probes, pause/resume
 *   record.ts     one transaction per flush: statuses, mirror, audit, conflicts, dead letters, outbox
 *   emit.ts       outbox → result topic (Avro) and dead-letter topic
 */
import { writeFileSync } from 'node:fs';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import type { Knex } from 'knex';
import type { Config } from '../../schemas/config';
import { redactConfig } from '../../schemas/config';
import { createDatabase } from '../postgres/db';
import { createKafka } from '../kafka/client';
import { recordPemsOutage, storeWriteIntents } from '../postgres/sink-store';
import {
  createLogger,
  createSinkMetrics,
  startOpsServer,
  type Logger,
  type OpsServer,
  type Readiness,
  type SinkMetrics,
} from '../observability';
import type { PemsClientOptions } from '../pems';
import { Check } from './check';
import { Claims } from './claims';
import { SyncContext } from './context';
import { Emitter } from './emit';
import { PemsHealth } from './health';
import { PfaLanes } from './lanes';
import { OffsetLedger } from './ledger';
import { PemsWrite } from './pems-write';
import { Recorder } from './record';
import { SinkTask, type SinkTaskOptions } from './task';
import { BatchWriter } from './write';

export interface SinkOptions {
  logger?: Logger;
  registry?: Registry;
  /** Options for every PEMS client (tests: the simulator's CA). */
  clientOverrides?: Partial<PemsClientOptions>;
  /** Start the /healthz, /readyz, /metrics server. Default true. */
  opsServer?: boolean;
  /** Work items in flight before fetching pauses. Default sink.maxInFlight (2500). */
  maxInFlight?: number;
  /**
   * Called when the sink stops itself (main.ts exits non-zero): outcomes cannot be recorded or
   * emitted, or the consumer crashed for good.
   */
  onFatal?: (err: unknown) => void;
  /** Test seams of the task, never set in production. */
  taskHooks?: SinkTaskOptions['hooks'];
}

export interface Sink {
  task: SinkTask;
  metrics: SinkMetrics;
  registry: Registry;
  db: Knex;
  ops: OpsServer | null;
  /** What /healthz answers: false once the consumer crashed for good or the sink stopped itself. */
  alive(): boolean;
  /** Idempotent graceful stop. */
  close(): Promise<void>;
  /** Resolves once the sink has stopped, whoever stopped it. */
  closed: Promise<void>;
}

/** Readiness also fails while outbox records wait for a topic that does not exist, saying which. */
function emitReadiness(r: Readiness, held: string | null): Readiness {
  return held === null
    ? { ...r, checks: { ...r.checks, outboxTopicsExist: true } }
    : { ready: false, checks: { ...r.checks, outboxTopicsExist: held } };
}

export async function startSink(config: Config, options: SinkOptions = {}): Promise<Sink> {
  const logger = options.logger ?? createLogger(config.log.level, { component: 'sink' });
  logger.info({ config: redactConfig(config) }, 'starting pems-sync sink');
  const registry = options.registry ?? new Registry();
  const metrics = createSinkMetrics(registry);
  const db = createDatabase({
    url: config.database.url,
    poolMax: config.database.poolMax,
    applicationName: 'pems-sync-sink',
  });
  const redis = config.redis.url ? new Redis(config.redis.url, { maxRetriesPerRequest: 3, lazyConnect: false }) : null;
  const kafka = createKafka(config, { logger });

  const emitter = new Emitter({
    kafka,
    db,
    registryUrl: config.schemaRegistry.url,
    registryAuth: config.schemaRegistry.username
      ? { username: config.schemaRegistry.username, password: config.schemaRegistry.password }
      : undefined,
    resultsTopic: config.topics.results,
    transactionalIdPrefix: config.kafka.groupId,
    afterProduce: config.sink.testEmitPauseFile
      ? async (rows) => {
          writeFileSync(config.sink.testEmitPauseFile, `${rows}\n`);
          await new Promise((r) => setTimeout(r, 5000));
        }
      : undefined,
    onHeldTopic: ({ topic, state, records }) => {
      metrics.outboxHeldRecords.set({ topic }, state === 'back' ? 0 : records);
      if (state === 'missing')
        logger.error(
          { topic, records },
          `topic ${topic} does not exist on the Kafka cluster: its ${records} outbox records are kept, not emitted, until it exists again (other topics go on)`,
        );
      else if (state === 'back')
        logger.info(
          { topic, records },
          `topic ${topic} exists again: emitted the ${records} outbox records held for it`,
        );
    },
  });
  await emitter.start();
  const leftover = await emitter.drainAll();
  if (leftover > 0 || emitter.alreadyEmitted > 0) {
    logger.info(
      { records: leftover, alreadyOnTopics: emitter.alreadyEmitted, transactionalId: emitter.transactionalId },
      'emitted outbox records left by a previous run',
    );
  }

  const context = new SyncContext({
    db,
    config,
    redis,
    registry,
    clientOverrides: options.clientOverrides,
    // One warning per organization and change: its edits fail with this reason until it is fixed.
    onProblem: (organization, p) =>
      logger.warn(
        { organization, setting: p.setting, reason: p.reason },
        `organization ${organization} is misconfigured (${p.setting}): ${p.reason}`,
      ),
  });
  const health = new PemsHealth({
    threshold: config.retry.outageThreshold,
    probeIntervalMs: config.retry.probeIntervalMs,
    onChange: (orgId, state) => {
      metrics.pemsReachable.set(state === 'up' ? 1 : 0);
      metrics.pemsOrganizationReachable.set({ organization: orgId }, state === 'up' ? 1 : 0);
      if (state === 'down') {
        void recordPemsOutage(db, orgId, new Date()).catch((err: unknown) =>
          logger.error({ err }, 'could not record the PEMS outage notification'),
        );
      }
    },
  });
  metrics.pemsReachable.set(1);
  const writer = new BatchWriter({
    batchSize: config.pems.batchSize,
    maxInFlight: config.sink.pemsRequestsInFlight,
    lingerMs: config.sink.batchLingerMs,
    beforeSend: (organization, items) => storeWriteIntents(db, organization, items),
    onRequest: (r) => {
      metrics.pemsRequests.inc({ endpoint: r.endpoint, status: r.ok ? 'ok' : (r.errorClass ?? 'error') });
      metrics.pemsRequestSeconds.observe({ endpoint: r.endpoint }, r.seconds);
      health.record(r.organization, r.ok || r.errorClass !== 'transient' ? 'success' : 'transient');
    },
  });
  const ledger = new OffsetLedger({
    firstDelayMs: config.sink.visibilityRetryMs,
    maxDelayMs: config.sink.visibilityRetryMaxMs,
    giveUpAfterMs: config.sink.visibilityTimeoutMs,
  });
  /** Set when the sink stops itself (outcomes not recorded or not emitted): liveness fails from then on. */
  let fatal: unknown = null;
  let closing: Promise<void> | null = null;
  // Built last; a fatal error before that stops the sink as soon as it exists.
  let built: Sink | null = null;
  let stopWhenBuilt = false;
  const stopItself = (err: unknown, log: () => void): void => {
    if (closing || fatal !== null) return; // stopping anyway; what is unrecorded is redelivered
    fatal = err;
    // /healthz fails at once, so an orchestrator restarts the process even if stopping hangs.
    log();
    options.onFatal?.(err);
    if (built) void built.close();
    else stopWhenBuilt = true;
  };
  const recorder = new Recorder({
    db,
    emitter,
    topics: { results: config.topics.results, deadLetters: config.topics.deadLetters },
    connectorName: config.sink.connectorName,
    maxEntries: config.sink.flushMaxEntries,
    lingerMs: config.sink.flushLingerMs,
    onDurable: (positions, entries) => {
      ledger.markDone(
        positions,
        entries.flatMap((e) => (e.kind === 'outcome' ? e.modifications.map((m) => m.modification.id) : [])),
      );
      for (const e of entries) {
        if (e.kind === 'poison') continue;
        if (e.outcome.kind === 'failed')
          metrics.deadLetters.inc({ reason: e.outcome.error.code }, e.modifications.length);
      }
    },
    onError: (err) =>
      stopItself(err, () => {
        if (emitter.failedDrainWith(err))
          logger.fatal(
            { err, transactionalId: emitter.transactionalId },
            'outcomes are recorded but could not be emitted to Kafka; stopping (liveness now fails) so that a restart emits them from the outbox',
          );
        else
          logger.fatal(
            { err },
            'outcomes could not be recorded; stopping (liveness now fails) so that Kafka redelivers them',
          );
      }),
  });
  const lanes = new PfaLanes({
    write: new PemsWrite({
      writer,
      health,
      // A record that keeps moving (child records posting every few seconds) is rechecked more
      // than once: each 409 means a fresh GET and a new decision, never a blind retry.
      retry: { delaysMs: config.retry.delaysMs, jitter: config.retry.jitter, maxRechecks: config.sink.maxRechecks },
    }),
    recorder,
    onOutcome: (outcome, _write, n, modifications) => {
      metrics.modifications.inc({ outcome: outcome.kind }, n);
      // At PEMS's acknowledgement, not after the record transaction and the emit (issue 16).
      const now = Date.now();
      if (outcome.kind === 'synced')
        for (const { modification: m } of modifications)
          if (m.committedAt) metrics.commitToPems.observe(Math.max(0, (now - Date.parse(m.committedAt)) / 1000));
      if (outcome.kind === 'conflict') metrics.conflicts.inc(n);
    },
    // The recorder's own failure has stopped the sink already (onError above); anything else is new.
    onFailed: (err) =>
      stopItself(err, () =>
        logger.fatal(
          { err },
          'a PFA lane stopped on an error; stopping (liveness now fails) so that Kafka redelivers its edits',
        ),
      ),
  });
  const claims = new Claims({ db, leaseMs: config.sink.claimLeaseMs, logger });
  await claims.start();
  const task = new SinkTask({
    kafka,
    check: new Check({ db, context }),
    lanes,
    recorder,
    ledger,
    claims,
    health,
    logger,
    metrics,
    topic: config.topics.cdc,
    groupId: config.kafka.groupId,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    maxDeltaBytes: config.sink.maxDeltaBytes,
    maxInFlight: options.maxInFlight ?? config.sink.maxInFlight,
    partitionsConsumedConcurrently: config.sink.partitionsConsumedConcurrently,
    shutdownTimeoutMs: config.sink.shutdownTimeoutMs,
    organizations: config.sink.organizations,
    onCrashedForGood: (err) =>
      stopItself(err, () =>
        logger.fatal(
          { err },
          'the consumer stopped on an error kafkajs does not restart it after; stopping (liveness now fails) so that a restart consumes again',
        ),
      ),
    hooks: options.taskHooks,
  });
  await task.start();
  /** Liveness (/healthz): the consumer has not crashed for good and the sink has not stopped itself. */
  const alive = (): boolean => fatal === null && task.alive();
  const ops =
    options.opsServer === false
      ? null
      : await startOpsServer({
          host: config.http.host,
          port: config.http.port,
          registry,
          liveness: alive,
          readiness: () => emitReadiness(task.ready(), emitter.missing.describe()),
        });
  logger.info({ topic: config.topics.cdc, group: config.kafka.groupId, opsPort: ops?.port }, 'sink running');

  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((r) => (markClosed = r));
  const sink: Sink = {
    closed,
    task,
    metrics,
    registry,
    db,
    ops,
    alive,
    close: () => {
      closing ??= (async () => {
        if (config.sink.testStopHang) await new Promise<never>(() => undefined); // tests only: a stop that hangs
        // Each step runs even if an earlier one fails: a stuck consumer must not keep the DB open.
        const steps: Array<[string, () => Promise<unknown>]> = [
          ['task', () => task.stop()],
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
  built = sink;
  if (stopWhenBuilt) void sink.close();
  return sink;
}
