import type { Knex } from 'knex';
import { appendAudit } from '../../../connectors/postgres/audit';
import { verifyAuditChain } from '../../../connectors/postgres/audit-query';
import { createDatabase } from '../../../connectors/postgres/db';
import { testEnv, uniqueId } from '../../support/env';

/**
 * Issue 13, item 2: the processes' role (PEMS_SYNC_APP_DATABASE_URL, created by stack.sh and
 * granted by migration 011) does the services' work but cannot do the audit attack: it cannot
 * disable the append-only trigger, alter a table, truncate, or update/delete audit entries.
 */
describe('least-privilege application role', () => {
  const url = process.env.PEMS_SYNC_APP_DATABASE_URL;
  let app: Knex;
  let owner: Knex;
  const org = uniqueId('APPROLE');

  beforeAll(async () => {
    expect(url).toBeTruthy(); // deploy/local/env.sh
    app = createDatabase({ url: url!, poolMax: 2 });
    owner = createDatabase({ url: testEnv.databaseUrl, poolMax: 2 });
    await owner('organization').insert({ id: org, name: 'app role test' });
    await owner('app_user').insert({ id: `u-${org}`, username: `u-${org}`.toLowerCase() });
  });
  afterAll(async () => {
    await app.destroy();
    await owner.destroy();
  });

  it('when the services work through it, then modifications, claims and keyed audit entries are written and verify', async () => {
    expect((await app.raw('SELECT current_user AS u')).rows[0].u).toBe(
      process.env.PEMS_SYNC_APP_ROLE ?? 'pems_sync_app',
    );
    const [m] = await app('pfa_modification')
      .insert({
        organization_id: org,
        pfa_id: 'PFA-1',
        user_id: `u-${org}`,
        delta: { notes: 'x' },
        base_version: 1,
        sync_status: 'committed',
        committed_at: new Date(),
      })
      .returning('id');
    await app('pfa_modification').where({ id: m.id }).update({ sync_status: 'syncing', claimed_by: 'sink-a' });
    await appendAudit(
      app,
      [1, 2, 3].map((n) => ({ organizationId: org, actor: 'system:test', eventType: 'sync.write', details: { n } })),
    );
    expect(await verifyAuditChain(app, org)).toMatchObject({
      ok: true,
      entries: 3,
      keyed: { signedEntries: 3, headValid: true },
    });
  });

  it('when it tries the audit attack or schema changes, then Postgres refuses each', async () => {
    await expect(app.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only')).rejects.toThrow(
      /must be owner/,
    );
    await expect(
      app.raw('ALTER TABLE pfa_modification DROP CONSTRAINT pfa_modification_delta_size_check'),
    ).rejects.toThrow(/must be owner/);
    await expect(app.raw('TRUNCATE audit_log')).rejects.toThrow(/permission denied/);
    await expect(app.raw('TRUNCATE pfa_modification CASCADE')).rejects.toThrow(/permission denied/);
    await expect(app('audit_log').where({ organization_id: org }).update({ actor: 'mallory' })).rejects.toThrow(
      /permission denied/,
    );
    await expect(app('audit_log').where({ organization_id: org }).del()).rejects.toThrow(/permission denied/);
    await expect(app.raw('DROP TABLE audit_log')).rejects.toThrow(/must be owner/);
    await expect(app('knex_migrations').select('*')).rejects.toThrow(/permission denied/);
    // Nothing changed: the chain still verifies.
    expect(await verifyAuditChain(owner, org)).toMatchObject({ ok: true, entries: 3 });
  });
});
