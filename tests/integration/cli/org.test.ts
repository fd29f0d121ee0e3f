/**
 * `pems-sync org ...`, `connector restart --free-slot` and `topics check` as processes against the
 * local stack and a simulator: each way an organization can be misconfigured gets its own exit
 * code and a message that names what to change.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPemsSimulator, type PemsSimulator } from '../../../connectors/pems-simulator';
import { createDatabase } from '../../../connectors/postgres/db';
import { cli } from '../../support/cli';
import { testEnv, uniqueId } from '../../support/env';

jest.setTimeout(120_000);

describe('pems-sync org (processes, real Postgres, simulator)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-org-'));
  const db = createDatabase({ url: testEnv.databaseUrl, poolMax: 2 });
  const a = uniqueId('CA').replace(/-/g, '').slice(0, 18);
  const b = uniqueId('CB').replace(/-/g, '').slice(0, 18);
  const keyA = `key-a-${randomBytes(6).toString('hex')}`;
  let sim: PemsSimulator;
  let env: Record<string, string>;

  beforeAll(async () => {
    sim = await startPemsSimulator({
      port: 0,
      rateLimitPerSecond: 0,
      credentials: [
        { apiKey: keyA, tenant: 'PEMS', organization: a },
        { apiKey: 'key-b', tenant: 'PEMS', organization: b },
      ],
    });
    writeFileSync(join(dir, 'ca.pem'), sim.cert!);
    writeFileSync(join(dir, 'a.key'), `${keyA}\n`);
    writeFileSync(join(dir, 'wrong.key'), 'not-the-key\n');
    env = {
      PEMS_SYNC_PEMS_CA_FILE: join(dir, 'ca.pem'),
      PEMS_SYNC_CREDENTIAL_KEYS: `c1:${randomBytes(32).toString('base64')}`,
      PEMS_SYNC_PEMS_ALLOWED_HOSTS: '127.0.0.1',
    };
  });
  afterAll(async () => {
    await sim.close();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the URL is http://, or its host is not allowed, then org add exits 2 naming the setting and stores nothing', async () => {
    const http = await cli(
      [
        'org',
        'add',
        a,
        '--name',
        'A',
        '--pems-url',
        sim.url.replace('https:', 'http:'),
        '--tenant',
        'PEMS',
        '--credential-file',
        join(dir, 'a.key'),
      ],
      env,
    );
    expect(http.code).toBe(2);
    expect(http.stderr).toContain('PEMS_SYNC_PEMS_ALLOW_INSECURE_HTTP');
    const host = await cli(
      [
        'org',
        'add',
        a,
        '--name',
        'A',
        '--pems-url',
        sim.url.replace('127.0.0.1', 'localhost'),
        '--tenant',
        'PEMS',
        '--credential-file',
        join(dir, 'a.key'),
      ],
      env,
    );
    expect(host.code).toBe(2);
    expect(host.stderr).toContain('host localhost is not in PEMS_SYNC_PEMS_ALLOWED_HOSTS');
    expect(await db('organization').where({ id: a }).first()).toBeUndefined();
  });

  it('when an organization is added, then check passes, show never prints the key or ciphertext, and adding it again is refused (6)', async () => {
    const add = await cli(
      [
        'org',
        'add',
        a,
        '--name',
        'A',
        '--pems-url',
        sim.url,
        '--tenant',
        'PEMS',
        '--credential-file',
        join(dir, 'a.key'),
      ],
      env,
    );
    expect(add.code).toBe(0);
    const check = await cli(['org', 'check', a, '--json'], env);
    expect(check.code).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({
      ok: true,
      checks: [
        { check: 'settings', ok: true },
        { check: 'health', ok: true },
        { check: 'authenticated read', ok: true },
        { check: 'rate limit', ok: true },
      ],
    });
    const row = await db('organization').where({ id: a }).first();
    const show = await cli(['org', 'show', a, '--json'], env);
    expect(show.code).toBe(0);
    expect(show.stdout).not.toContain(keyA);
    expect(show.stdout).not.toContain(row.pems_credential_encrypted.split(':')[4]);
    expect(JSON.parse(show.stdout)).toMatchObject({
      id: a,
      syncEnabled: false,
      credential: { format: 'v2', keyId: 'c1', needsReencryption: false },
      problem: null,
    });
    expect(add.stderr).not.toContain('ALLOWED_HOSTS is empty');
    const open = await cli(
      [
        'org',
        'add',
        `${a}X`,
        '--name',
        'A',
        '--pems-url',
        sim.url,
        '--tenant',
        'PEMS',
        '--credential-file',
        join(dir, 'a.key'),
      ],
      { ...env, PEMS_SYNC_PEMS_ALLOWED_HOSTS: '' },
    );
    expect(open.code).toBe(0);
    expect(open.stderr).toContain('PEMS_SYNC_PEMS_ALLOWED_HOSTS is empty, so any host is accepted');
    await db('organization')
      .where({ id: `${a}X` })
      .delete();
    const again = await cli(
      [
        'org',
        'add',
        a,
        '--name',
        'A',
        '--pems-url',
        sim.url,
        '--tenant',
        'PEMS',
        '--credential-file',
        join(dir, 'a.key'),
      ],
      env,
    );
    expect(again.code).toBe(6);
    expect(again.stderr).toContain('exists already');
  });

  it('when the credential is wrong, then check exits 1 saying PEMS refused it and how to replace it', async () => {
    expect((await cli(['org', 'update', a, '--credential-file', join(dir, 'wrong.key')], env)).code).toBe(0);
    const check = await cli(['org', 'check', a], env);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/FAIL\s+authenticated read\s+PEMS refused the credential .*401.*org update/);
    expect((await cli(['org', 'update', a, '--credential-file', join(dir, 'a.key')], env)).code).toBe(0);
  });

  it("when one organization's ciphertext is copied into another's row, then it does not decrypt there and check names the column", async () => {
    const row = await db('organization').where({ id: a }).first();
    await db('organization').insert({
      id: b,
      name: 'B',
      pems_base_url: sim.url,
      pems_tenant: 'PEMS',
      pems_credential_encrypted: row.pems_credential_encrypted,
    });
    const check = await cli(['org', 'check', b], env);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(
      /FAIL\s+settings\s+pems_credential_encrypted: credential failed authentication .*another organization than/,
    );
  });

  it('when the PEMS certificate is not trusted or PEMS is not listening, then check says which', async () => {
    const tls = await cli(['org', 'check', a], { ...env, PEMS_SYNC_PEMS_CA_FILE: '' });
    expect(tls.code).toBe(1);
    expect(tls.stdout).toMatch(/FAIL\s+health\s+the TLS certificate of PEMS is not trusted .*PEMS_SYNC_PEMS_CA_FILE/);
    await db('organization').where({ id: a }).update({ pems_base_url: 'https://127.0.0.1:1/api/pems' });
    const down = await cli(['org', 'check', a], env);
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/FAIL\s+health\s+PEMS could not be reached \(ECONNREFUSED\)/);
    await db('organization').where({ id: a }).update({ pems_base_url: sim.url });
  });

  it('when an organization is disabled, then list shows sync off; unknown ones are 4', async () => {
    expect((await cli(['org', 'disable', a], env)).code).toBe(0);
    const list = await cli(['org', 'list', '--json'], env);
    expect(JSON.parse(list.stdout).find((o: { id: string }) => o.id === a)).toMatchObject({ syncEnabled: false });
    expect((await cli(['org', 'show', 'NOPE-NOT-THERE'], env)).code).toBe(4);
    expect((await cli(['org', 'update', 'NOPE-NOT-THERE', '--enable-sync'], env)).code).toBe(4);
  });

  it('when the Debezium task is RUNNING, then restart --free-slot refuses (6) and terminates nothing', async () => {
    const before = await db.raw(
      "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'pems_sync_pfa_modification'",
    );
    const r = await cli(['connector', 'restart', '--free-slot'], env);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('RUNNING');
    const after = await db.raw(
      "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'pems_sync_pfa_modification'",
    );
    expect(after.rows[0].active_pid).toBe(before.rows[0].active_pid);
  });

  it('when the topics are as declared, then topics check exits 0 and reports the subject BACKWARD', async () => {
    expect((await cli(['topics', 'create'], env)).code).toBe(0);
    const r = await cli(['topics', 'check', '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).subject).toMatchObject({ compatibility: 'BACKWARD', explicit: true, ok: true });
  });
});
