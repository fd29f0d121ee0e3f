import type { Knex } from 'knex';
import { createDatabase } from '../../../connectors/postgres/db';
import { migrateLatest, migrateRollback, migrationStatus } from '../../../schemas/migrate';
import { MIGRATION_NAMES } from '../../../schemas/migrations';
import { testEnv, uniqueId } from '../../support/env';

/**
 * Migrations run in a throwaway Postgres schema so the live `public` schema (and the
 * Debezium slot on it) is untouched.
 */
describe('schema migrations', () => {
  const schema = uniqueId('mig').toLowerCase().replace(/-/g, '_');
  let admin: Knex;
  let db: Knex;

  beforeAll(async () => {
    admin = createDatabase({ url: testEnv.databaseUrl, poolMax: 1 });
    await admin.raw('CREATE SCHEMA ??', [schema]);
    db = createDatabase({ url: testEnv.databaseUrl, searchPath: schema, poolMax: 3 });
  });

  afterAll(async () => {
    await db.destroy();
    await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    await admin.destroy();
  });

  const tablesIn = async (): Promise<string[]> => {
    const rows = await admin('information_schema.tables').where({ table_schema: schema }).select('table_name');
    return rows.map((r: { table_name: string }) => r.table_name).sort();
  };

  it('when applied to an empty schema, then every table exists with a primary key', async () => {
    const applied = await migrateLatest(db);
    expect(applied).toEqual([...MIGRATION_NAMES]);
    const tables = await tablesIn();
    for (const t of [
      'organization',
      'app_user',
      'user_organization',
      'pfa_mirror',
      'pfa_mirror_history',
      'pfa_modification',
      'sync_conflict',
      'audit_log',
      'audit_chain_head',
      'rollback_request',
      'dead_letter',
      'notification',
      'pems_source_cursor',
    ]) {
      expect(tables).toContain(t);
    }
    const withoutPk = await admin.raw(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ? AND c.relkind = 'r'
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')`,
      [schema],
    );
    expect(withoutPk.rows).toEqual([]);
    const identity = await admin.raw(
      `SELECT c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = 'pfa_modification'`,
      [schema],
    );
    // Migration 009: the identity is an index, so a status change logs four columns, not the delta.
    expect(identity.rows[0].relreplident).toBe('i');
  });

  it('when applied twice, then the second run applies nothing', async () => {
    expect(await migrateLatest(db)).toEqual([]);
    expect((await migrationStatus(db)).pending).toEqual([]);
  });

  it('when several migrators start at once, then the advisory lock serializes them and each migration runs once', async () => {
    await migrateRollback(db, true);
    const others = [1, 2, 3].map(() => createDatabase({ url: testEnv.databaseUrl, searchPath: schema, poolMax: 2 }));
    try {
      const results = await Promise.all(others.map((k) => migrateLatest(k)));
      expect(results.flat().sort()).toEqual([...MIGRATION_NAMES].sort());
    } finally {
      await Promise.all(others.map((k) => k.destroy()));
    }
  });

  it('when a modification gets an unknown status, then the database refuses it', async () => {
    await db('organization').insert({ id: 'MIGT', name: 'Migration test' });
    await db('app_user').insert({ id: 'u-mig', username: 'mig' });
    await expect(
      db('pfa_modification').insert({
        organization_id: 'MIGT',
        pfa_id: 'PFA-1',
        user_id: 'u-mig',
        base_version: 1,
        sync_status: 'bogus',
      }),
    ).rejects.toThrow(/pfa_modification_status_check/);
  });

  it('when a delta is larger than sink.maxDeltaBytes, then the database refuses it at the insert and the largest allowed one is stored', async () => {
    const limit = 1_048_576; // the default of sink.maxDeltaBytes, applied by migrateLatest
    // {"notes": "xxx…"} as jsonb text: 12 bytes around the string.
    const deltaOf = (bytes: number): Record<string, string> => ({ notes: 'x'.repeat(bytes - 13) });
    expect(JSON.stringify(deltaOf(limit)).length).toBe(limit - 1); // jsonb prints ": " with a space
    const row = (bytes: number) => ({
      organization_id: 'MIGT',
      pfa_id: 'PFA-2',
      user_id: 'u-mig',
      base_version: 1,
      delta: deltaOf(bytes),
    });
    await db('pfa_modification').insert(row(limit));
    const [stored] = await db('pfa_modification')
      .where({ pfa_id: 'PFA-2' })
      .select(db.raw('octet_length(delta::text) AS n'));
    expect(Number(stored.n)).toBe(limit);
    await expect(db('pfa_modification').insert(row(limit + 1))).rejects.toThrow(/pfa_modification_delta_size_check/);
    await expect(
      db('pfa_modification')
        .where({ pfa_id: 'PFA-2' })
        .update({ delta: deltaOf(limit + 1) }),
    ).rejects.toThrow(/pfa_modification_delta_size_check/);
  });

  it('when audit entries are written, then they are hash-chained and cannot be changed or deleted', async () => {
    await db('audit_log').insert({
      organization_id: 'MIGT',
      actor: 'u-mig',
      event_type: 'test.one',
      details: { a: 1 },
    });
    await db('audit_log').insert({
      organization_id: 'MIGT',
      actor: 'u-mig',
      event_type: 'test.two',
      details: { b: 2 },
    });
    const rows = await db('audit_log').where({ organization_id: 'MIGT' }).orderBy('id');
    expect(rows).toHaveLength(2);
    expect(rows[0].prev_hash).toBe('0'.repeat(64));
    expect(rows[1].prev_hash).toBe(rows[0].hash);
    expect(rows[0].hash).toMatch(/^[0-9a-f]{64}$/);
    await expect(db('audit_log').where({ id: rows[0].id }).update({ actor: 'mallory' })).rejects.toThrow(/append-only/);
    await expect(db('audit_log').where({ id: rows[0].id }).del()).rejects.toThrow(/append-only/);
  });

  it('when an index build of migration 013 failed part way, then the next run drops the invalid index and builds it again', async () => {
    await db('organization').insert({ id: 'MIGI', name: 'Invalid index' }).onConflict('id').ignore();
    await db('app_user').insert({ id: 'u-mig', username: 'mig' }).onConflict('id').ignore();
    for (const pfa of ['PFA-I1', 'PFA-I2'])
      await db('pfa_modification').insert({ organization_id: 'MIGI', pfa_id: pfa, user_id: 'u-mig', base_version: 1 });
    // A concurrent build that fails (here: duplicates under UNIQUE) leaves an invalid index of that name.
    await db.raw('DROP INDEX pfa_modification_org_updated');
    await expect(
      db.raw('CREATE UNIQUE INDEX CONCURRENTLY pfa_modification_org_updated ON pfa_modification (organization_id)'),
    ).rejects.toThrow(/could not create unique index/);
    const state = async (): Promise<Array<{ valid: boolean; unique: boolean }>> =>
      (
        await admin.raw(
          `SELECT i.indisvalid AS valid, i.indisunique AS unique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relname = 'pfa_modification_org_updated' AND c.relnamespace = ?::regnamespace`,
          [schema],
        )
      ).rows;
    expect(await state()).toEqual([{ valid: false, unique: true }]);
    await db('knex_migrations').where({ name: '013_console_read_indexes' }).delete();

    expect(await migrateLatest(db)).toEqual(['013_console_read_indexes']);
    expect(await state()).toEqual([{ valid: true, unique: false }]);
  });

  it('when rolled back, then every table is gone', async () => {
    const undone = await migrateRollback(db, true);
    expect(undone.sort()).toEqual([...MIGRATION_NAMES].sort());
    const left = (await tablesIn()).filter((t) => !t.startsWith('knex_migrations'));
    expect(left).toEqual([]);
  });
});
