/**
 * `pems-sync org load` interrupted half-way and run again: it resumes from the stored cursor and
 * the mirror ends complete.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPemsSimulator, type PemsSimulator } from '../../../connectors/pems-simulator';
import { createDatabase } from '../../../connectors/postgres/db';
import { cli, REPO } from '../../support/cli';
import { testEnv, uniqueId } from '../../support/env';

jest.setTimeout(180_000);

describe('pems-sync org load: progress, interruption, resume', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-load-'));
  const db = createDatabase({ url: testEnv.databaseUrl, poolMax: 2 });
  const org = uniqueId('LD').replace(/-/g, '').slice(0, 18);
  const suffix = org.toLowerCase();
  let sim: PemsSimulator;
  let env: Record<string, string>;

  beforeAll(async () => {
    sim = await startPemsSimulator({
      port: 0,
      testMode: true,
      rateLimitPerSecond: 0,
      credentials: [{ apiKey: 'load-key', tenant: 'PEMS', organization: org }],
    });
    sim.control.seed({ organization: org, count: 100, seed: 3 });
    writeFileSync(join(dir, 'ca.pem'), sim.cert!);
    env = {
      PEMS_SYNC_PEMS_CA_FILE: join(dir, 'ca.pem'),
      PEMS_SYNC_CREDENTIAL_KEYS: `ld:${randomBytes(32).toString('base64')}`,
      PEMS_SYNC_POLL_PAGE_SIZE: '10',
      PEMS_SYNC_RAW_TOPIC: `test.load.${suffix}.raw`,
      PEMS_SYNC_MIRROR_DLQ_TOPIC: `test.load.${suffix}.raw-dlq`,
      PEMS_SYNC_MIRROR_GROUP_ID: `test-load-mirror-${suffix}`,
      PEMS_SYNC_RESULT_TOPIC: `test.load.${suffix}.results`,
      PEMS_SYNC_DLQ_TOPIC: `test.load.${suffix}.dlq`,
    };
    expect((await cli(['topics', 'create'], env)).code).toBe(0);
    expect(
      (
        await cli(
          ['org', 'add', org, '--name', 'load', '--pems-url', sim.url, '--tenant', 'PEMS', '--credential-stdin'],
          env,
          'load-key',
        )
      ).code,
    ).toBe(0);
  });
  afterAll(async () => {
    await sim.close();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the load is interrupted with Ctrl-C and run again, then the second run resumes where the first stopped and the mirror holds every record', async () => {
    sim.control.setFaults({ latency: { kind: 'fixed', ms: 400 }, endpoints: ['GET /pfa'] });
    const child = spawn(process.execPath, [join(REPO, 'bin', 'pems-sync.js'), 'org', 'load', org], {
      cwd: REPO,
      env: { ...process.env, ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
    let loaded = 0;
    for (const t0 = Date.now(); loaded < 20; await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() - t0 > 60_000) throw new Error(`no progress: ${stderr}`);
      loaded = Number(
        (await db('pems_source_cursor').where({ organization_id: org }).first('records_loaded'))?.records_loaded ?? 0,
      );
    }
    child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(stderr).toContain('run the same command again to resume');
    const cut = await db('pems_source_cursor').where({ organization_id: org }).first();
    expect(cut.mode).toBe('full_load');
    expect(cut.cursor).not.toBeNull();
    expect(Number(cut.records_loaded)).toBeLessThan(100);
    sim.control.clearFaults();

    const again = await cli(['org', 'load', org, '--json'], env);
    expect(again.code).toBe(0);
    const summary = JSON.parse(again.stdout);
    expect(summary.recordsProduced).toBe(100 - Number(cut.records_loaded));
    expect(summary).toMatchObject({ mode: 'incremental', mirrorRecords: 100 });
    expect(again.stderr).toMatch(/loading .*: records \d+/);
  });
});
