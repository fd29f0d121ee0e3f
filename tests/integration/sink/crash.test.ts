import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWorld, writesApplied, type World } from './harness';
import { testEnv } from '../../support/env';

/** The sink as its own process, as it runs in production, so it can be killed for real. */
function spawnSink(world: World, caFile: string): ChildProcess {
  // node itself with tsx's loader (not the tsx CLI, which runs the script in a second process
  // that a SIGKILL of the CLI would leave running).
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../../../connectors/sink/main.ts')], {
    env: {
      ...process.env,
      DATABASE_URL: testEnv.databaseUrl,
      KAFKA_BROKERS: testEnv.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: testEnv.schemaRegistryUrl,
      REDIS_URL: testEnv.redisUrl,
      PEMS_SYNC_GROUP_ID: world.config.kafka.groupId,
      PEMS_SYNC_CDC_TOPIC: world.config.topics.cdc,
      PEMS_SYNC_RESULT_TOPIC: world.topics.results,
      PEMS_SYNC_DLQ_TOPIC: world.topics.deadLetters,
      PEMS_SYNC_CREDENTIAL_KEYS: world.config.pems.credentialKeys,
      PEMS_SYNC_PEMS_CA_FILE: caFile,
      PEMS_SYNC_RETRY_DELAYS_MS: '50,100,200',
      PEMS_SYNC_SESSION_TIMEOUT_MS: '6000',
      PEMS_SYNC_HTTP_PORT: '0',
      PEMS_SYNC_LOG_LEVEL: 'error',
      PEMS_SYNC_ORGANIZATIONS: world.org,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}

const exited = (c: ChildProcess): Promise<void> => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

describe('sink: killed with SIGKILL mid-batch', () => {
  let world: World;
  let caFile: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    world = await createWorld({ records: 40, rateLimitPerSecond: 10 });
    caFile = join(mkdtempSync(join(tmpdir(), 'pems-sync-ca-')), 'sim.pem');
    writeFileSync(caFile, world.sim.cert!);
    // Slow PEMS down so a kill lands while writes are in flight.
    world.sim.control.setFaults({ latency: { kind: 'uniform', minMs: 20, maxMs: 120 } });
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await Promise.all(children.map(exited));
    await world.close();
  });

  it('when the sink is killed and started again, then every modification ends in exactly one outcome and no change is applied twice', async () => {
    const first = spawnSink(world, caFile);
    children.push(first);

    // 40 PFAs, 3 edits each (the same field edited again: the last value must win).
    const ids: string[] = [];
    const lastNote = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (const r of world.records) {
        const note = `round ${round} of ${r.pfaId}`;
        ids.push(await world.commit({ pfaId: r.pfaId, delta: { notes: note }, baseVersion: r.version }));
        lastNote.set(r.pfaId, note);
      }
    }

    // Kill once some, but not all, have an outcome.
    const start = Date.now();
    for (;;) {
      const { count } = (await world.db('pfa_modification').whereIn('id', ids).where('sync_status', 'synced').count('* as count').first()) as { count: string };
      if (Number(count) > 0 && Number(count) < ids.length) break;
      if (Number(count) === ids.length) throw new Error('everything finished before the kill; slow the simulator down');
      if (Date.now() - start > 120000) throw new Error('nothing synced before the kill');
      await new Promise((r) => setTimeout(r, 20));
    }
    first.kill('SIGKILL');
    await exited(first);

    const second = spawnSink(world, caFile);
    children.push(second);
    const rows = await world.waitForOutcome(ids, 120000);
    second.kill('SIGTERM');
    await exited(second);

    expect(rows.filter((r) => r.sync_status !== 'synced')).toEqual([]);
    for (const r of world.records) {
      const pems = world.sim.control.getRecord(r.pfaId)!;
      expect(pems.notes).toBe(lastNote.get(r.pfaId));
      // Three edits of a PFA may fold into fewer writes, never into more.
      expect(writesApplied(world, r.pfaId)).toBeLessThanOrEqual(3);
      const mirror = await world.db('pfa_mirror').where({ organization_id: world.org, pfa_id: r.pfaId }).first();
      expect(mirror.version).toBe(pems.version);
    }
    // One recorded outcome per modification: exactly one terminal write entry in the audit log.
    const finals = await world.db('audit_log').whereIn('modification_id', ids).whereRaw("details->>'outcome' is not null").select('modification_id');
    expect(finals).toHaveLength(ids.length);
    expect(new Set(finals.map((f) => f.modification_id)).size).toBe(ids.length);
    // The rate limit held across both processes.
    expect(world.sim.control.stats().maxRequestsPerSecond[world.org]).toBeLessThanOrEqual(10);
  }, 180_000);
});
