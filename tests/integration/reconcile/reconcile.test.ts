import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reconcileOrganization } from '../../../connectors/reconcile';
import { parseCredentialKeys } from '../../../connectors/pems';
import { createWorld, TEST_CREDENTIAL_KEYS, type World } from '../../support/world';
import { testEnv } from '../../support/env';

jest.setTimeout(180_000);

describe('reconcile: one organization against its PEMS', () => {
  let world: World;
  let dir: string;

  beforeAll(async () => {
    world = await createWorld({ records: 6, rateLimitPerSecond: 10 });
    dir = mkdtempSync(join(tmpdir(), 'pems-sync-reconcile-'));
    writeFileSync(join(dir, 'sim.pem'), world.sim.cert!);
    await world.startSink();
  });

  afterAll(async () => {
    await world.close();
  });

  const run = () =>
    reconcileOrganization({
      db: world.db,
      organization: world.org,
      keyRing: parseCredentialKeys(TEST_CREDENTIAL_KEYS),
      graceMs: 60_000,
      ca: world.sim.cert,
      redis: testEnv.redisUrl,
    });

  // Asynchronous: the simulator answers from this very process, so a spawnSync would starve it.
  function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(__dirname, '../../../connectors/reconcile/main.ts'), ...args],
        {
          env: {
            ...process.env,
            DATABASE_URL: testEnv.databaseUrl,
            REDIS_URL: testEnv.redisUrl,
            PEMS_SYNC_CREDENTIAL_KEYS: TEST_CREDENTIAL_KEYS,
          },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
  }

  it('when every edit has synced, then reconcile finds PEMS, mirror and outcomes in agreement (library and CLI, exit 0)', async () => {
    const ids = [
      await world.commit({ pfaId: world.records[0]!.pfaId, delta: { notes: 'reconciled' } }),
      await world.commit({ pfaId: world.records[1]!.pfaId, delta: { monthlyRate: 777 } }),
    ];
    const rows = await world.waitForOutcome(ids, 90_000);
    expect(rows.map((r) => r.sync_status)).toEqual(['synced', 'synced']);
    const r = await run();
    expect(r.findings).toEqual([]);
    expect(r.summary).toMatchObject({ pemsRecords: 6, mirrorRecords: 6, drift: false, byStatus: { synced: 2 } });
    expect(r.summary.outcomeChecks.checked).toBe(2);
    expect(r.pemsRequests).toBe(1);

    const out = await cli(['--organization', world.org, '--ca-file', join(dir, 'sim.pem')]);
    expect(out.stderr).toBe('');
    expect(out.stdout).toMatch(/in agreement/);
    expect(out.status).toBe(0);
  });

  it('when PEMS changed behind the mirror, a Vanguard user wrote without a modification and one modification is stuck, then each is reported and the CLI exits 1 with a report', async () => {
    const [a, b] = [world.records[2]!.pfaId, world.records[3]!.pfaId];
    world.sim.control.editAsPemsUser(a, { description: 'changed in EAM' }, 'jdoe');
    world.sim.control.editAsPemsUser(b, { notes: 'not through the sink' }, world.user);
    // A modification that never reached the sink (inserted as syncing, an hour old: no CDC transition into committed).
    const [stuck] = await world
      .db('pfa_modification')
      .insert({
        organization_id: world.org,
        pfa_id: world.records[4]!.pfaId,
        user_id: world.user,
        delta: JSON.stringify({ notes: 'stuck' }),
        base_version: 1,
        sync_status: 'syncing',
        committed_at: new Date(Date.now() - 3_600_000),
      })
      .returning('id');
    const r = await run();
    const kinds = r.findings.map((f) => `${f.kind}:${f.pfaId}`).sort();
    expect(kinds).toEqual(
      [`mirror_stale:${a}`, `mirror_stale:${b}`, `orphan_write:${b}`, `unfinished:${world.records[4]!.pfaId}`].sort(),
    );
    expect(r.findings.find((f) => f.kind === 'unfinished')).toMatchObject({
      modificationId: stuck.id,
      status: 'syncing',
    });
    expect(r.findings.find((f) => f.kind === 'mirror_stale' && f.pfaId === a)).toMatchObject({
      fields: [{ field: 'description', pems: 'changed in EAM' }],
    });

    const report = join(dir, 'report.json');
    const out = await cli(['-o', world.org, '--ca-file', join(dir, 'sim.pem'), '--report', report]);
    expect(out.status).toBe(1);
    expect(out.stdout).toMatch(/DRIFT/);
    const json = JSON.parse(readFileSync(report, 'utf8'));
    expect(json.summary.findings).toMatchObject({ mirror_stale: 2, orphan_write: 1, unfinished: 1 });
    expect(json.findings).toHaveLength(4);
    // Tidy: the stuck row would otherwise stay "in flight" for this organization.
    await world.db('pfa_modification').where({ id: stuck.id }).update({ sync_status: 'failed' });
  });

  it('when the organization does not exist, then the CLI exits 2 naming it', async () => {
    const out = await cli(['--organization', 'NO-SUCH-ORG']);
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/NO-SUCH-ORG does not exist/);
  });
});
