/**
 * Dashboards that cannot lie (issue 17): a running sink, read side and control API are scraped
 * over HTTP (/metrics on their ops ports) and every metric name used in the Grafana dashboard's
 * queries and in the alert rules must be among what they expose — a renamed metric fails here
 * instead of leaving a flat panel or an alert that never fires. The read side and the control
 * API run as their own processes (their entry points own the ops server); the sink in-process
 * with its production ops server, after one edit synced (the PEMS client's metrics appear with
 * its first request).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createWorld, TEST_CREDENTIAL_KEYS, type World } from '../../support/world';
import { testEnv, uniqueId } from '../../support/env';
import { testKafka } from '../../support/kafka';
import { eventually, freePort } from '../../support/monitoring';

jest.setTimeout(180_000);

const repo = join(__dirname, '..', '..', '..');

function startProcess(entry: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(repo, entry)], {
    cwd: repo,
    env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1', PEMS_SYNC_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

/** Metric names a /metrics page declares (# TYPE lines), with the series names histograms add. */
async function exposedNames(port: number): Promise<Set<string>> {
  const text = await eventually(`/metrics on 127.0.0.1:${port}`, 60_000, async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return res.ok ? res.text() : undefined;
  });
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m[1]}${s}`);
  }
  return names;
}

/** pems_sync_* names in PromQL expressions. */
const namesIn = (exprs: string[]): Set<string> =>
  new Set(exprs.flatMap((e) => [...e.matchAll(/\bpems_sync_[a-z0-9_]+/g)].map((m) => m[0])));

describe('metric names in the dashboard and the alert rules', () => {
  let world: World;
  let source: ChildProcess | undefined;
  let controlApi: ChildProcess | undefined;

  afterAll(async () => {
    await Promise.all([stopProcess(source), stopProcess(controlApi)]);
    await world?.close();
  });

  it('all exist on the /metrics of a running sink, read side and control API', async () => {
    world = await createWorld({ records: 2 });
    const sink = await world.startSink();
    const id = await world.commit({ pfaId: world.records[0]!.pfaId, delta: { notes: 'metric names' } });
    expect((await world.waitForOutcome([id], 60_000))[0]!.sync_status).toBe('synced');

    const suffix = uniqueId('metrics').toLowerCase();
    // The read side subscribes to its raw topic at start: create its topics first.
    const admin = testKafka().admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [`test.raw.${suffix}`, `test.raw-dlq.${suffix}`].map((topic) => ({ topic, numPartitions: 1 })),
    });
    await admin.disconnect();
    const [sourcePort, opsPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const common = {
      DATABASE_URL: testEnv.databaseUrl,
      KAFKA_BROKERS: testEnv.kafkaBrokers.join(','),
      REDIS_URL: testEnv.redisUrl,
      SCHEMA_REGISTRY_URL: testEnv.schemaRegistryUrl,
    };
    source = startProcess('connectors/source/main.ts', {
      ...common,
      PEMS_SYNC_CREDENTIAL_KEYS: TEST_CREDENTIAL_KEYS,
      PEMS_SYNC_HTTP_PORT: String(sourcePort),
      PEMS_SYNC_RAW_TOPIC: `test.raw.${suffix}`,
      PEMS_SYNC_MIRROR_DLQ_TOPIC: `test.raw-dlq.${suffix}`,
      PEMS_SYNC_MIRROR_GROUP_ID: `test-mirror-${suffix}`,
      PEMS_SYNC_POLL_INTERVAL_MS: '600000',
    });
    controlApi = startProcess('connectors/control-api/main.ts', {
      ...common,
      PEMS_SYNC_JWT_SECRET: 'metric-names-test-secret-of-32-characters!',
      PEMS_SYNC_API_PORT: String(apiPort),
      PEMS_SYNC_HTTP_PORT: String(opsPort),
    });

    const exposed = new Set<string>();
    for (const port of [sink.ops!.port, sourcePort, opsPort]) for (const n of await exposedNames(port)) exposed.add(n);

    const dashboard = JSON.parse(readFileSync(join(repo, 'deploy/grafana/pems-sync-dashboard.json'), 'utf8')) as {
      panels: Array<{ targets: Array<{ expr: string }> }>;
    };
    const rules = parse(readFileSync(join(repo, 'deploy/helm/pems-sync/files/pems-sync.rules.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ expr: string }> }>;
    };
    const used = new Set([
      ...namesIn(dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))),
      ...namesIn(rules.groups.flatMap((g) => g.rules.map((r) => r.expr))),
    ]);
    expect(used.size).toBeGreaterThan(20);
    const missing = [...used].filter((n) => !exposed.has(n)).sort();
    expect(missing).toEqual([]);
    // The check itself sees a renamed metric.
    expect(exposed.has('pems_sync_modifications_renamed_total')).toBe(false);
    // The per-organization figures are live values of this world's organization, not just names.
    const api = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    expect(api).toContain(`pems_sync_organization_modifications{organization="${world.org}",status="synced"} 1`);
    expect(api).toContain(`pems_sync_oldest_unsynced_edit_age_seconds{organization="${world.org}"} 0`);
    expect(api).toContain('pems_sync_status_collector_ok 1');
  });
});
