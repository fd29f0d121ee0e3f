/**
 * The live demo (the README's main command runs it after bringing the stack up): a PEMS
 * simulator with realistic records, an organization whose users commit edits in PFA Vanguard,
 * and the real pipeline — Postgres → Debezium → Kafka → sink → PEMS, with the read side
 * bringing PEMS-side edits back into the mirror. Prints progress and a closing summary, then
 * stops its own processes and leaves the stack running for a look.
 *
 *   DEMO_RECORDS (200)  DEMO_EDITS (400)  DEMO_RATE_LIMIT (10 requests/s, the contract's)
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../../schemas/config';
import { createDatabase } from '../../connectors/postgres/db';
import { applyMirrorVersion } from '../../connectors/postgres/mirror';
import { encryptCredential, parseCredentialKeys } from '../../connectors/pems';
import { startPemsSimulator } from '../../connectors/pems-simulator';
import { startSink } from '../../connectors/sink';
import { buildControlApi } from '../../connectors/control-api/server';
import { createLogger } from '../../connectors/observability';
import { MirrorStream, PemsPoller } from '../../connectors/source';
import type { PfaRecord } from '../../streams/pfa-record';

const RECORDS = Number(process.env.DEMO_RECORDS ?? 200);
const EDITS = Number(process.env.DEMO_EDITS ?? 400);
const RATE = Number(process.env.DEMO_RATE_LIMIT ?? 10);
const tty = process.stdout.isTTY;

const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;

async function main(): Promise<void> {
  const run = Date.now().toString(36).toUpperCase();
  const org = `RIO${run}`;
  const keys = `demo:${randomBytes(32).toString('base64')}`;
  const apiKey = `demo-${randomBytes(16).toString('hex')}`;
  const db = createDatabase({ url: process.env.DATABASE_URL!, poolMax: 4 });
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

  console.log(
    `\npems-sync demo — organization ${org}, ${RECORDS} PFA records, ${EDITS} edits, PEMS limit ${RATE} requests/s\n`,
  );
  const sim = await startPemsSimulator({
    port: 0,
    testMode: true,
    rateLimitPerSecond: RATE,
    credentials: [{ apiKey, tenant: 'DEMO', organization: org }],
  });
  const ids = sim.control.seed({ organization: org, count: RECORDS, seed: 42 });
  const records = ids.map((id) => sim.control.getRecord(id)!) as PfaRecord[];
  console.log(`• PEMS simulator on ${sim.url} (HTTPS, self-signed), ${records.length} records seeded`);

  await db('organization').insert({
    id: org,
    name: `Rio demo ${run}`,
    sync_enabled: true,
    pems_base_url: sim.url,
    pems_tenant: 'DEMO',
    pems_credential_encrypted: encryptCredential(apiKey, parseCredentialKeys(keys), org),
  });
  const users = ['alice', 'bruno', 'chen', 'dana'].map((u) => `${u}-${run.toLowerCase()}`);
  const noRight = `eve-${run.toLowerCase()}`;
  for (const u of [...users, noRight]) {
    await db('app_user').insert({ id: u, username: u, display_name: u.split('-')[0] });
    await db('user_organization').insert({
      user_id: u,
      organization_id: org,
      perm_sync: u !== noRight,
      is_admin: u.startsWith('alice'),
    });
  }
  for (const r of records) await applyMirrorVersion(db, { record: r, origin: 'seed' });
  console.log(
    `• Vanguard mirror loaded; users ${users.map((u) => u.split('-')[0]).join(', ')} (perm_Sync) and eve (no perm_Sync)`,
  );

  // Topics of this run, and a consumer group that starts at the end of the CDC topic.
  const kafka = new Kafka({ clientId: 'pems-sync-demo', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topics = {
    results: `demo.${run.toLowerCase()}.results`,
    dlq: `demo.${run.toLowerCase()}.dead-letters`,
    raw: `demo.${run.toLowerCase()}.pems-raw`,
    rawDlq: `demo.${run.toLowerCase()}.pems-raw.dlq`,
  };
  await admin.createTopics({
    waitForLeaders: true,
    topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 6 })),
  });
  const config = loadConfig(process.env, {
    kafka: { groupId: `pems-sync-demo-${run.toLowerCase()}` },
    topics: { results: topics.results, deadLetters: topics.dlq, pemsRaw: topics.raw, mirrorDeadLetters: topics.rawDlq },
    pems: { credentialKeys: keys, rateLimitPerSecond: RATE },
    http: { port: 0 },
    log: { level: 'error' },
    sink: { organizations: [org] },
  });
  const ends = await admin.fetchTopicOffsets(config.topics.cdc);
  await admin.setOffsets({
    groupId: config.kafka.groupId,
    topic: config.topics.cdc,
    partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
  });
  await admin.disconnect();

  const sink = await startSink(config, {
    clientOverrides: { ca: sim.cert },
    logger: createLogger('error', { demo: run }),
  });
  while (!sink.task.ready().ready) await new Promise((r) => setTimeout(r, 100));
  console.log(`• sink joined group ${config.kafka.groupId}; metrics on http://127.0.0.1:${sink.ops?.port}/metrics`);

  // The console (control API process): local sign-in for this run's demo users only; it trusts
  // the simulator's self-signed certificate for the PEMS health probe, as a deployment would its CA.
  const caFile = join(tmpdir(), `pems-sync-demo-${run.toLowerCase()}-ca.pem`);
  writeFileSync(caFile, sim.cert ?? '');
  const consoleApi = buildControlApi({
    db,
    kafka,
    logger: false,
    config: {
      ...config,
      pems: { ...config.pems, caFile },
      controlApi: { ...config.controlApi, jwtSecret: randomBytes(32).toString('hex') },
      console: {
        ...config.console,
        localSignInUsers: [...users, noRight],
        sinkMetricsUrls: [`http://127.0.0.1:${sink.ops?.port}/metrics`],
      },
    },
  });
  const consoleUrl = `${await consoleApi.listen({ host: config.controlApi.host, port: config.controlApi.port })}/console`;

  const poller = new PemsPoller({
    db,
    kafka,
    topic: topics.raw,
    keyRing: parseCredentialKeys(keys),
    pollIntervalMs: 2000,
    organizations: [org],
    pems: { ca: sim.cert, rateLimitPerSecond: RATE },
    redis: process.env.REDIS_URL,
  });
  const mirror = new MirrorStream({
    kafka,
    db,
    topic: topics.raw,
    deadLetterTopic: topics.rawDlq,
    groupId: `pems-sync-demo-mirror-${run.toLowerCase()}`,
  });
  await mirror.start();
  void poller.start();
  console.log('• read side polling PEMS every 2 s into the mirror\n');

  // The workload: several users, some on the same PFAs, some colliding with PEMS users, some invalid.
  const plan: Array<{ kind: string; id: string }> = [];
  const started = Date.now();
  const categories = ['Cranes', 'Generators', 'Scaffolding', 'Light Vehicles'];
  for (let i = 0; i < EDITS; i++) {
    const rec = records[i % Math.min(records.length, Math.max(1, Math.floor(EDITS * 0.8)))]!;
    let kind = 'edit';
    let delta: Record<string, unknown> = { notes: `forecast reviewed (${i})`, category: pick(categories, i) };
    let user = pick(users, i);
    if (i % 40 === 7) {
      kind = 'collides';
      sim.control.editAsPemsUser(rec.pfaId, { notes: `PEMS planner note ${i}` });
    } else if (i % 40 === 11) {
      kind = 'rebases';
      sim.control.editAsPemsUser(rec.pfaId, { description: `PEMS description ${i}` });
    } else if (i % 40 === 13) {
      kind = 'invalid';
      delta = { forecastStart: '2027-03-01', forecastEnd: '2026-12-31' };
    } else if (i % 40 === 17) {
      kind = 'no right';
      user = noRight;
    } else if (i % 40 === 23) {
      kind = 'child activity';
      sim.control.childActivity(rec.pfaId, 1);
    }
    const base = await db('pfa_mirror').where({ organization_id: org, pfa_id: rec.pfaId }).first('version');
    const [row] = await db('pfa_modification')
      .insert({
        organization_id: org,
        pfa_id: rec.pfaId,
        user_id: user,
        delta: JSON.stringify(delta),
        base_version: base.version,
        change_reason: 'demo',
        sync_status: 'committed',
        committed_at: new Date(),
      })
      .returning('id');
    plan.push({ kind, id: row.id });
  }
  console.log(`committed ${plan.length} modifications in ${((Date.now() - started) / 1000).toFixed(1)} s; syncing…`);

  const terminal = ['synced', 'conflict', 'rejected', 'failed', 'superseded'];
  let last = '';
  for (;;) {
    const rows = (await db('pfa_modification')
      .where({ organization_id: org })
      .select('sync_status')
      .count('* as n')
      .groupBy('sync_status')) as Array<{ sync_status: string; n: string }>;
    const by = Object.fromEntries(rows.map((r) => [r.sync_status, Number(r.n)]));
    const done = terminal.reduce((s, k) => s + (by[k] ?? 0), 0);
    const line = `  ${String(done).padStart(4)}/${plan.length} done | synced ${by.synced ?? 0} | conflict ${by.conflict ?? 0} | rejected ${by.rejected ?? 0} | failed ${by.failed ?? 0} | in flight ${(by.syncing ?? 0) + (by.committed ?? 0)} | ${((Date.now() - started) / 1000).toFixed(1)} s`;
    if (line !== last) {
      process.stdout.write(tty ? `\r${line}` : `${line}\n`);
      last = line;
    }
    if (done >= plan.length) break;
    if (Date.now() - started > 600_000) throw new Error('demo did not finish in 10 minutes');
    await new Promise((r) => setTimeout(r, 500));
  }
  if (tty) process.stdout.write('\n');

  const wall = (Date.now() - started) / 1000;
  const lat = await db.raw(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM synced_at - committed_at)) AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM synced_at - committed_at)) AS p95
       FROM pfa_modification WHERE organization_id = ? AND sync_status = 'synced'`,
    [org],
  );
  const rebased = await db.raw(
    `SELECT count(DISTINCT a.modification_id) AS n FROM audit_log a JOIN pfa_modification m ON m.id = a.modification_id
      WHERE a.organization_id = ? AND a.details->>'result' = 'updated' AND (a.details->>'version')::int <> m.base_version`,
    [org],
  );
  const dls = await db('dead_letter').where({ organization_id: org }).count('* as n').first();
  const final = (await db('pfa_modification')
    .where({ organization_id: org })
    .select('sync_status')
    .count('* as n')
    .groupBy('sync_status')) as Array<{ sync_status: string; n: string }>;
  const by = Object.fromEntries(final.map((r) => [r.sync_status, Number(r.n)]));
  const stats = sim.control.stats();
  const batchRequests = Object.values(stats.requests['POST /pfa/batch'] ?? {}).reduce((a, b) => a + b, 0);
  await new Promise((r) => setTimeout(r, 2500)); // one more poll so the mirror shows the PEMS-side edits
  const early = await db('sync_conflict')
    .where({ organization_id: org, detected_by: 'early_warning' })
    .count('* as n')
    .first();

  console.log('\nsummary');
  console.log(`  synced        ${by.synced ?? 0}  (of which rebased onto a newer PEMS version: ${rebased.rows[0].n})`);
  console.log(
    `  conflicts     ${by.conflict ?? 0}  (open for a person: use local, use PEMS or merge; early warnings from the read side: ${(early as { n: string }).n})`,
  );
  console.log(`  rejected      ${by.rejected ?? 0}  (PEMS rules or no perm_Sync; never sent)`);
  console.log(`  failed        ${by.failed ?? 0}  dead letters: ${(dls as { n: string }).n}`);
  console.log(
    `  latency       commit → PEMS p50 ${Number(lat.rows[0].p50 ?? 0).toFixed(2)} s, p95 ${Number(lat.rows[0].p95 ?? 0).toFixed(2)} s; wall ${wall.toFixed(1)} s`,
  );
  console.log(
    `  PEMS          ${batchRequests} batch requests, at most ${stats.maxRequestsPerSecond[org] ?? 0} in any second (limit ${RATE})`,
  );
  // Hints that work when pasted: the connection comes from env.sh (PGHOST, PGPORT, PGPASSWORD...), never printed.
  console.log('\nlook around (from the repository):');
  for (const hint of lookAroundHints(org)) console.log(`  ${hint}`);
  console.log(
    `result topic ${topics.results} (Avro), dead letters ${topics.dlq}; the stack keeps running (npm run stack:down to stop it)\n`,
  );

  console.log(`console       ${consoleUrl}/status`);
  console.log(
    `sign in       ${consoleUrl}/sign-in (demo users: ${[...users, noRight].map((u) => u.split('-')[0]).join(', ')})\n`,
  );
  // Interactive runs keep the console (and the pipeline behind it) up until Ctrl-C; DEMO_CONSOLE_STAY=0|1 overrides.
  if (process.env.DEMO_CONSOLE_STAY ? process.env.DEMO_CONSOLE_STAY === '1' : tty) {
    console.log('the console stays up: Ctrl-C to stop the demo');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
  await consoleApi.close();
  await poller.stop();
  await mirror.stop();
  await sink.close();
  await sim.close();
  await db.destroy();
}

/** The closing commands, one per line, each runnable as printed in a shell at the repository root. */
export function lookAroundHints(org: string): string[] {
  return [
    'source deploy/local/env.sh',
    `psql -c "select sync_status, count(*) from pfa_modification where organization_id='${org}' group by 1"`,
    `npx pems-sync org show ${org}`,
    `npx pems-sync users list --organization ${org}`,
    'npx pems-sync connector status',
    'npx pems-sync topics check',
  ];
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
