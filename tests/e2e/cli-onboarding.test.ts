/**
 * The README's "Connect your first organization", run as written (one bash script, the
 * operator's own environment) against the local stack and a PEMS simulator; then a user of the
 * new organization commits an edit and it reaches PEMS through the sink.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../schemas/config';
import { startSink, type Sink } from '../../connectors/sink';
import { startPemsSimulator, type PemsSimulator } from '../../connectors/pems-simulator';
import { createDatabase } from '../../connectors/postgres/db';
import { createLogger } from '../../connectors/observability/logger';
import { readmeBlock, runShell, type Ran } from '../support/cli';
import { testEnv, uniqueId } from '../support/env';
import { testKafka } from '../support/kafka';

jest.setTimeout(300_000);

describe('README: connect your first organization', () => {
  const org = uniqueId('ON').replace(/-/g, '').slice(0, 20);
  const apiKey = `key-${randomBytes(8).toString('hex')}`;
  const suffix = org.toLowerCase();
  const dir = mkdtempSync(join(tmpdir(), 'cli-onboarding-'));
  const db = createDatabase({ url: testEnv.databaseUrl, poolMax: 2 });
  let sim: PemsSimulator;
  let sink: Sink | undefined;
  let env: Record<string, string>;
  let ran: Ran;

  beforeAll(async () => {
    sim = await startPemsSimulator({
      port: 0,
      testMode: true,
      rateLimitPerSecond: 10,
      credentials: [{ apiKey, tenant: 'PEMS', organization: org }],
    });
    sim.control.seed({ organization: org, count: 120, seed: 7 });
    writeFileSync(join(dir, 'ca.pem'), sim.cert!);
    env = {
      ORG: org,
      PEMS_URL: sim.url,
      PEMS_API_KEY: apiKey,
      PEMS_SYNC_PEMS_CA_FILE: join(dir, 'ca.pem'),
      PEMS_SYNC_PEMS_ALLOWED_HOSTS: '127.0.0.1,localhost',
      PEMS_SYNC_CREDENTIAL_KEYS: `k${Date.now() % 1000}:${randomBytes(32).toString('base64')}`,
      PEMS_SYNC_JWT_SECRET: randomBytes(32).toString('hex'),
      // This test's own read-side and result topics (topics create makes them), so nothing else's
      // records are waited for.
      PEMS_SYNC_RAW_TOPIC: `test.onboarding.${suffix}.raw`,
      PEMS_SYNC_MIRROR_DLQ_TOPIC: `test.onboarding.${suffix}.raw-dlq`,
      PEMS_SYNC_MIRROR_GROUP_ID: `test-onboarding-mirror-${suffix}`,
      PEMS_SYNC_RESULT_TOPIC: `test.onboarding.${suffix}.results`,
      PEMS_SYNC_DLQ_TOPIC: `test.onboarding.${suffix}.dlq`,
    };
    // The block ends by exporting the token; print it so the test can use it like the operator would.
    ran = await runShell(
      `${readmeBlock('## Connect your first organization')}\necho "token=$PEMS_SYNC_API_TOKEN"`,
      env,
    );
  });

  afterAll(async () => {
    await sink?.close();
    await sim.close();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the README block runs as written, then every command succeeds and says what it did', () => {
    if (ran.code !== 0) throw new Error(`README block failed (${ran.code}):\n${ran.stdout}\n${ran.stderr}`);
    expect(ran.stdout).toContain(`registry: ${env.PEMS_SYNC_RESULT_TOPIC}-value`);
    expect(ran.stdout).toMatch(/compatibility BACKWARD/);
    expect(ran.stdout).toMatch(/connector\s+pems-sync-pfa-modification: RUNNING/);
    expect(ran.stdout).toContain(`added organization ${org}`);
    expect(ran.stdout).toMatch(/ok\s+health\s+GET \/health: UP/);
    expect(ran.stdout).toMatch(/ok\s+authenticated read/);
    expect(ran.stdout).toContain(`loaded organization ${org}: 120 records read from PEMS`);
    expect(ran.stdout).toMatch(/granted alice .*perm_Sync/);
    expect(ran.stdout).toMatch(/granted ops-admin .*perm_Sync, admin/);
    expect(ran.stdout).toMatch(/sync\s+enabled/);
    expect(ran.stdout).toMatch(/token=eyJ[\w-]+\.[\w-]+\.[\w-]+/);
    // Secrets never reach the operator's terminal.
    expect(ran.stdout + ran.stderr).not.toContain(apiKey);
  });

  it('when the organization was onboarded, then its row holds a bound ciphertext, the mirror the PEMS records, and the members their rights', async () => {
    const row = await db('organization').where({ id: org }).first();
    expect(row.sync_enabled).toBe(true);
    expect(row.pems_credential_encrypted).toMatch(/^v2:k\d+:/);
    expect(row.pems_credential_encrypted).not.toContain(apiKey);
    const counted = await db('pfa_mirror').where({ organization_id: org }).count<{ n: string }[]>({ n: '*' });
    const n = counted[0]?.n;
    expect(Number(n)).toBe(120);
    const cursor = await db('pems_source_cursor').where({ organization_id: org }).first();
    expect(cursor.mode).toBe('incremental');
    const members = await db('user_organization').where({ organization_id: org }).orderBy('user_id');
    expect(members.map((m: any) => [m.user_id, m.perm_sync, m.is_admin])).toEqual([
      ['alice', true, false],
      ['ops-admin', true, true],
    ]);
  });

  it('when alice then commits an edit on a loaded record, then the sink writes it to PEMS', async () => {
    const groupId = `test-onboarding-sink-${suffix}`;
    const admin = testKafka().admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(testEnv.cdcTopic);
    await admin.setOffsets({
      groupId,
      topic: testEnv.cdcTopic,
      partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
    });
    await admin.disconnect();
    const config = loadConfig(
      { ...process.env, ...env },
      {
        kafka: { groupId, sessionTimeoutMs: 10000 },
        sink: { organizations: [org], shutdownTimeoutMs: 5000 },
        http: { port: 0 },
        log: { level: 'warn' },
      },
    );
    sink = await startSink(config, { logger: createLogger('warn', { test: org }) });
    const start = Date.now();
    while (!sink.task.ready().ready) {
      if (Date.now() - start > 30000) throw new Error('sink did not join its consumer group');
      await new Promise((r) => setTimeout(r, 100));
    }
    const mirror = await db('pfa_mirror').where({ organization_id: org }).orderBy('pfa_id').first('pfa_id', 'version');
    const [{ id }] = await db('pfa_modification')
      .insert({
        organization_id: org,
        pfa_id: mirror.pfa_id,
        user_id: 'alice',
        delta: JSON.stringify({ notes: 'onboarded via the CLI' }),
        base_version: mirror.version,
        sync_status: 'committed',
        committed_at: new Date(),
      })
      .returning('id');
    let m: any;
    for (const t0 = Date.now(); Date.now() - t0 < 60_000; await new Promise((r) => setTimeout(r, 200))) {
      m = await db('pfa_modification').where({ id }).first();
      if (!['committed', 'queued', 'syncing'].includes(m.sync_status)) break;
    }
    expect({ status: m.sync_status, error: m.sync_error }).toEqual({ status: 'synced', error: null });
    expect(sim.control.getRecord(mirror.pfa_id)).toMatchObject({
      notes: 'onboarded via the CLI',
      version: mirror.version + 1,
    });
  });

  it('when the organization is reconciled with the CLI, then PEMS, mirror and modifications agree (exit 0)', async () => {
    // The read side is not running in this test: let the CLI's load bring the synced version into the mirror first.
    expect((await runShell(`npx pems-sync org load "$ORG"`, env)).code).toBe(0);
    const r = await runShell(`npx pems-sync reconcile --organization "$ORG" --grace-ms 0 --json`, env);
    if (r.code !== 0) throw new Error(`reconcile: ${r.code}\n${r.stdout}\n${r.stderr}`);
    expect(JSON.parse(r.stdout).summary).toMatchObject({ drift: false });
  });
});
