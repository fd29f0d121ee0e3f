/**
 * The fault-injection suite's world (issue 7): the sink world of tests/support/world
 * (an organization with its own PEMS simulator at the contract's 10 req/s, its own topics and a
 * consumer group at the CDC topic's end), plus
 *  - more Vanguard users and the read side (poller + mirror stream on a topic of its own, sharing
 *    the sink's Redis rate limit), so PEMS users' edits reach the mirror as in production;
 *  - sinks as real processes (node --import tsx connectors/sink/main.ts), killable with SIGKILL;
 *  - a workload: Vanguard users committing edits (some PFAs hot, edited by several users) while
 *    PEMS users edit and child records bump versions;
 *  - the judge: wait for quiet, then reconcile, and the suite's four promises.
 * FAULTS_SHORT=1 scales durations and volumes down for CI.
 */
import type { ChildProcess } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MirrorStream, PemsPoller, createSourceMetrics, type SourceLogger } from '../../connectors/source';
import { parseCredentialKeys } from '../../connectors/pems';
import { reconcileOrganization, type ReconcileRun } from '../../connectors/reconcile';
import { formatSummary } from '../../streams/reconcile';
import { Registry } from 'prom-client';
import { createWorld, TEST_CREDENTIAL_KEYS, type World } from '../support/world';
import { testEnv } from '../support/env';
import { collect, testKafka } from '../support/kafka';
import { spawnSinkProcess } from '../support/sink-process';

export const SHORT = process.env.FAULTS_SHORT === '1';
/** full value, short value */
export const pick = <T>(full: T, short: T): T => (SHORT ? short : full);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const TERMINAL = ['synced', 'conflict', 'rejected', 'failed', 'superseded'];

export interface FaultWorld {
  world: World;
  users: string[];
  caFile: string;
  /** Every modification the workload (or the test) committed. */
  committed: string[];
  spawnSink(env?: Record<string, string>): ChildProcess;
  sinks: ChildProcess[];
  /** Starts the read side (poll every second). */
  startReadSide(): Promise<void>;
  close(): Promise<void>;
}

/** Where scenarios leave their reports and logs: $PEMS_SYNC_STATE/faults, or under /tmp. */
function faultsDir(): string {
  const dir = join(process.env.PEMS_SYNC_STATE ?? tmpdir(), 'faults');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The read side runs inside the test process; its warnings and errors go to a file of their own
 * (faults/read-side-<org>.log under $PEMS_SYNC_STATE or /tmp), so a failed scenario leaves them.
 */
function readSideLogger(org: string): SourceLogger {
  const file = join(faultsDir(), `read-side-${org.toLowerCase()}.log`);
  const line = (level: string, obj: object, msg?: string): void => {
    const o = obj as { err?: unknown };
    const err = o.err instanceof Error ? { name: o.err.name, message: o.err.message } : o.err;
    appendFileSync(file, `${JSON.stringify({ t: new Date().toISOString(), level, msg, ...obj, err })}\n`);
  };
  return {
    info: (obj, msg) => line('info', obj, msg),
    warn: (obj, msg) => line('warn', obj, msg),
    error: (obj, msg) => line('error', obj, msg),
  };
}

export const exited = (c: ChildProcess): Promise<void> =>
  new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

export async function createFaultWorld(opts: { records?: number; users?: number } = {}): Promise<FaultWorld> {
  const world = await createWorld({ records: opts.records ?? 30, rateLimitPerSecond: 10 });
  const users = [world.user];
  for (let i = 1; i < (opts.users ?? 5); i++) {
    const id = `${world.user}-${i}`;
    await world.db('app_user').insert({ id, username: id });
    await world.db('user_organization').insert({ user_id: id, organization_id: world.org, perm_sync: true });
    users.push(id);
  }
  const caFile = join(mkdtempSync(join(tmpdir(), 'pems-sync-faults-')), 'sim.pem');
  writeFileSync(caFile, world.sim.cert!);

  const sinks: ChildProcess[] = [];
  const kafka = testKafka(`faults-${world.org.toLowerCase()}`);
  const rawTopic = `test.faults.${world.org.toLowerCase()}.raw`;
  const mirrorDlq = `test.faults.${world.org.toLowerCase()}.raw-dlq`;
  let poller: PemsPoller | null = null;
  let stream: MirrorStream | null = null;

  const fw: FaultWorld = {
    world,
    users,
    caFile,
    committed: [],
    sinks,
    spawnSink(env = {}) {
      // The world's sink environment (its organization only, so no other suite's sink is
      // disturbed), with the default retry delays unless a scenario sets its own.
      const { PEMS_SYNC_RETRY_DELAYS_MS: _testDelays, ...base } = world.sinkEnv(caFile);
      // Its log (warnings and errors) in a file of its own, kept with the scenario's report.
      const outputFile = join(faultsDir(), `sink-${world.org.toLowerCase()}-${sinks.length + 1}.log`);
      const proc = spawnSinkProcess(
        { ...base, PEMS_SYNC_SHUTDOWN_TIMEOUT_MS: '5000', PEMS_SYNC_LOG_LEVEL: 'warn', ...env },
        { outputFile },
      );
      sinks.push(proc.child);
      return proc.child;
    },
    async startReadSide() {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: rawTopic, numPartitions: 3 },
          { topic: mirrorDlq, numPartitions: 1 },
        ],
      });
      await admin.disconnect();
      const metrics = createSourceMetrics(new Registry());
      const logger = readSideLogger(world.org);
      // The read side's own client, its kafkajs warnings and errors in the same file.
      const readKafka = new Kafka({
        clientId: `faults-read-${world.org.toLowerCase()}`,
        brokers: testEnv.kafkaBrokers,
        logLevel: logLevel.WARN,
        logCreator:
          () =>
          ({ level, log }) => {
            const { message, ...extra } = log;
            logger[level <= logLevel.ERROR ? 'error' : 'warn']({ kafkajs: extra }, message);
          },
      });
      stream = new MirrorStream({
        kafka: readKafka,
        db: world.db,
        topic: rawTopic,
        deadLetterTopic: mirrorDlq,
        groupId: `test-faults-mirror-${world.org.toLowerCase()}`,
        sessionTimeoutMs: 10_000,
        metrics,
        logger,
      });
      await stream.start();
      poller = new PemsPoller({
        db: world.db,
        kafka: readKafka,
        topic: rawTopic,
        keyRing: parseCredentialKeys(TEST_CREDENTIAL_KEYS),
        pageSize: 500,
        pollIntervalMs: 1000,
        // The sink's shared limit (same credential id, default key prefix): together never over 10/s.
        pems: { ca: world.sim.cert, timeoutMs: 5000, rateLimitPerSecond: 10, retries: 0 },
        redis: testEnv.redisUrl,
        organizations: [world.org],
        metrics,
        logger,
      });
      await poller.start();
    },
    async close() {
      // Each step bounded: a hung cleanup must not keep jest from exiting (the report says which).
      const step = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
        let timer: NodeJS.Timeout | undefined;
        const t0 = Date.now();
        await Promise.race([
          fn().catch((e: unknown) => process.stderr.write(`[faults] close ${name}: ${String(e)}\n`)),
          new Promise<void>(
            (r) =>
              (timer = setTimeout(() => (process.stderr.write(`[faults] close ${name}: timed out\n`), r()), 15_000)),
          ),
        ]);
        clearTimeout(timer);
        if (process.env.FAULTS_DEBUG) process.stderr.write(`[faults] close ${name}: ${Date.now() - t0} ms\n`);
      };
      for (const c of sinks) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await step('sinks', () => Promise.all(sinks.map(exited)));
      await step('poller', async () => poller?.stop());
      await step('mirror stream', async () => stream?.stop());
      await step('topics', async () => {
        const admin = kafka.admin();
        await admin.connect();
        await admin.deleteTopics({ topics: [rawTopic, mirrorDlq] }).catch(() => undefined);
        await admin.disconnect();
      });
      await step('world', () => world.close());
    },
  };
  return fw;
}

const FIELDS = ['notes', 'description', 'monthlyRate', 'equipment', 'forecastEnd'] as const;

function editFor(field: (typeof FIELDS)[number], n: number): Record<string, unknown> {
  switch (field) {
    case 'notes':
      return { notes: `note ${n}` };
    case 'description':
      return { description: `description ${n}` };
    case 'monthlyRate':
      return { monthlyRate: 1000 + (n % 5000) };
    case 'equipment':
      return { equipment: `EQ-${n}` };
    case 'forecastEnd':
      return { forecastEnd: `2031-0${1 + (n % 9)}-1${n % 10}` };
  }
}

export interface WorkloadStats {
  vanguardEdits: number;
  pemsEdits: number;
  childActivity: number;
  /** Commits Postgres refused (while it was down): the user saw an error, nothing was committed. */
  commitErrors: number;
}

/**
 * For durationMs: every ~intervalMs a random Vanguard user commits an edit (half of them on the
 * first five PFAs, so users collide), and about every third tick a PEMS user edits a record in EAM
 * or child activity bumps a version. Resolves with what it did; ids land in fw.committed.
 */
export async function runWorkload(
  fw: FaultWorld,
  opts: { durationMs: number; intervalMs?: number; signal?: { stop: boolean }; tolerateCommitErrors?: boolean },
): Promise<WorkloadStats> {
  const { world } = fw;
  const stats: WorkloadStats = { vanguardEdits: 0, pemsEdits: 0, childActivity: 0, commitErrors: 0 };
  const until = Date.now() + opts.durationMs;
  let n = 0;
  while (Date.now() < until && !opts.signal?.stop) {
    n++;
    const hot = Math.random() < 0.5;
    const rec = hot
      ? world.records[n % Math.min(5, world.records.length)]!
      : world.records[Math.floor(Math.random() * world.records.length)]!;
    const user = fw.users[Math.floor(Math.random() * fw.users.length)]!;
    const field = FIELDS[Math.floor(Math.random() * FIELDS.length)]!;
    try {
      fw.committed.push(await world.commit({ pfaId: rec.pfaId, delta: editFor(field, n), user }));
      stats.vanguardEdits++;
    } catch (err) {
      // Postgres down (infra-restarts): Vanguard shows the user an error and nothing is committed.
      // A commit that did land but whose answer was lost is still judged: judge() reads every
      // modification of the organization, not only this list.
      if (!opts.tolerateCommitErrors) throw err;
      stats.commitErrors++;
    }
    if (n % 3 === 0) {
      const target = world.records[Math.floor(Math.random() * world.records.length)]!;
      if (Math.random() < 0.7) {
        const f = FIELDS[Math.floor(Math.random() * FIELDS.length)]!;
        world.sim.control.editAsPemsUser(target.pfaId, editFor(f, n + 100_000), 'jdoe-pems');
        stats.pemsEdits++;
      } else {
        world.sim.control.childActivity(target.pfaId, 1);
        stats.childActivity++;
      }
    }
    await sleep(opts.intervalMs ?? 150);
  }
  return stats;
}

export interface Verdict {
  scenario: string;
  modifications: number;
  byStatus: Record<string, number>;
  lost: number;
  maxWritesOverModifications: number;
  idempotentReplays: number;
  maxRequestsPerSecond: number;
  quietAfterMs: number;
  reconcile: ReconcileRun;
  workload?: WorkloadStats;
  extra?: Record<string, unknown>;
}

/**
 * Waits for quiet (every committed modification terminal, then reconcile clean: the read side
 * may need a poll or two to bring PEMS users' last edits into the mirror), then returns what the
 * suite asserts on. Does not assert: the caller does, so each test's expectations are visible.
 */
export async function judge(
  fw: FaultWorld,
  scenario: string,
  opts: { quietTimeoutMs?: number; workload?: WorkloadStats; extra?: Record<string, unknown> } = {},
): Promise<Verdict> {
  const { world } = fw;
  const started = Date.now();
  const timeout = opts.quietTimeoutMs ?? 240_000;
  for (;;) {
    // Every modification of the organization, also those whose commit answer was lost.
    const rows = await world.db('pfa_modification').where({ organization_id: world.org }).select('sync_status');
    if (rows.every((r: { sync_status: string }) => TERMINAL.includes(r.sync_status))) break;
    if (Date.now() - started > timeout) break; // reported as lost below
    await sleep(500);
  }
  const keyRing = parseCredentialKeys(TEST_CREDENTIAL_KEYS);
  let run: ReconcileRun;
  // Retry only while the mirror may still be catching up (the read side polls every second);
  // any other finding is final once every modification is terminal.
  const catchingUp = (r: ReconcileRun): boolean =>
    r.findings.some((f) => f.kind === 'mirror_stale' || f.kind === 'missing_in_mirror');
  const reconcileStarted = Date.now();
  for (;;) {
    // With the simulator's log of applied writes and replays: a second application is caught
    // directly, even when the read side never saw the version it produced.
    run = await reconcileOrganization({
      db: world.db,
      organization: world.org,
      keyRing,
      graceMs: 0,
      ca: world.sim.cert,
      redis: testEnv.redisUrl,
      writeLog: world.sim.control.writeLog(),
    });
    if (!run.summary.drift || !catchingUp(run) || Date.now() - reconcileStarted > 30_000) break;
    await sleep(1500);
  }
  const quietAfterMs = Date.now() - started;

  const mods = await world
    .db('pfa_modification')
    .where({ organization_id: world.org })
    .select('id', 'pfa_id', 'sync_status');
  const byStatus: Record<string, number> = {};
  const perPfa = new Map<string, number>();
  for (const m of mods) {
    byStatus[m.sync_status] = (byStatus[m.sync_status] ?? 0) + 1;
    perPfa.set(m.pfa_id, (perPfa.get(m.pfa_id) ?? 0) + 1);
  }
  const stats = world.sim.control.stats() as {
    writesApplied: Record<string, number>;
    idempotentReplays: number;
    maxRequestsPerSecond: Record<string, number>;
  };
  let maxWritesOverModifications = -Infinity;
  for (const [pfaId, writes] of Object.entries(stats.writesApplied)) {
    maxWritesOverModifications = Math.max(maxWritesOverModifications, writes - (perPfa.get(pfaId) ?? 0));
  }
  const verdict: Verdict = {
    scenario,
    modifications: mods.length,
    byStatus,
    lost: mods.filter((m: { sync_status: string }) => !TERMINAL.includes(m.sync_status)).length,
    maxWritesOverModifications: Number.isFinite(maxWritesOverModifications) ? maxWritesOverModifications : 0,
    idempotentReplays: stats.idempotentReplays,
    maxRequestsPerSecond: stats.maxRequestsPerSecond[world.org] ?? 0,
    quietAfterMs,
    reconcile: run,
    workload: opts.workload,
    extra: opts.extra,
  };
  report(verdict);
  return verdict;
}

/** One line per scenario on stdout, and the whole verdict under $PEMS_SYNC_STATE or /tmp. */
function report(v: Verdict): void {
  const dir = faultsDir();
  const file = join(dir, `${v.scenario}${SHORT ? '.short' : ''}.json`);
  const { reconcile, ...rest } = v;
  writeFileSync(
    file,
    JSON.stringify(
      {
        ...rest,
        reconcile: {
          summary: reconcile.summary,
          durationMs: reconcile.durationMs,
          pemsRequests: reconcile.pemsRequests,
          findings: reconcile.findings.slice(0, 50),
        },
      },
      null,
      2,
    ),
  );
  process.stdout.write(
    `[faults] ${v.scenario}${SHORT ? ' (short)' : ''}: ${v.modifications} modifications ${JSON.stringify(v.byStatus)}, lost ${v.lost}, ` +
      `writes-over-modifications max ${v.maxWritesOverModifications}, replays ${v.idempotentReplays}, max ${v.maxRequestsPerSecond} req/s, ` +
      `quiet after ${(v.quietAfterMs / 1000).toFixed(1)} s${v.extra ? ` ${JSON.stringify(v.extra)}` : ''}\n${formatSummary(reconcile, { examples: 3 })}\n(${file})\n`,
  );
}

/**
 * The result topic as a read_committed consumer sees it (issue 13: one record per outcome):
 * records per modification id, read until nothing new came for idleMs.
 */
export async function resultsPerModification(
  fw: FaultWorld,
  idleMs = 5000,
): Promise<{ records: number; duplicated: string[]; missing: string[] }> {
  const registry = new SchemaRegistry({ host: testEnv.schemaRegistryUrl });
  const per = new Map<string, number>();
  // Results are keyed by {organization_id, pfa_id} (per-PFA order); the modification is in the value.
  const ids = await collect(testKafka(`faults-results-${fw.world.org.toLowerCase()}`), fw.world.topics.results, {
    until: { idleMs },
    readUncommitted: false,
    groupId: `faults-results-${fw.world.org.toLowerCase()}-${Date.now()}`,
    pick: async ({ message }) =>
      message.value
        ? String(((await registry.decode(message.value)) as { modificationId: string }).modificationId)
        : '',
  });
  for (const id of ids) per.set(id, (per.get(id) ?? 0) + 1);
  const records = ids.length;
  const mods = (await fw.world
    .db('pfa_modification')
    .where({ organization_id: fw.world.org })
    .whereIn('sync_status', TERMINAL)
    .select('id')) as Array<{ id: string }>;
  return {
    records,
    duplicated: [...per].filter(([, n]) => n > 1).map(([id]) => id),
    missing: mods.map((m) => m.id).filter((id) => !per.has(id)),
  };
}

/** The four promises of issue 7, asserted the same way in every scenario. */
export function expectPromisesKept(v: Verdict): void {
  expect(v.reconcile.findings).toEqual([]);
  expect(v.lost).toBe(0);
  expect(v.maxWritesOverModifications).toBeLessThanOrEqual(0);
  expect(v.maxRequestsPerSecond).toBeLessThanOrEqual(10);
}
