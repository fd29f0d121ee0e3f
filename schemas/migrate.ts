/**
 * Applies or rolls back the schema. Serialized with a Postgres advisory lock so several
 * instances starting at once never race (knex's own lock table is a second guard).
 *
 *   tsx schemas/migrate.ts latest | rollback | rollback-all | status
 */
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from './migrations';
import { applyDeltaLimit, configuredDeltaLimit } from './migrations/009_capture_bounds';

/** Arbitrary but fixed: the advisory-lock key every pems-sync migrator takes. */
const MIGRATION_LOCK_KEY = 0x70656d73; // 'pems'

/** How often a migrator waiting for another one asks for the lock again, ms. */
const LOCK_POLL_MS = 250;

/**
 * Runs fn holding the migration lock. A waiting migrator asks with pg_try_advisory_lock between
 * pauses instead of blocking in pg_advisory_lock: a blocked statement keeps its transaction open,
 * and CREATE INDEX CONCURRENTLY (migration 013) waits for every open transaction to end, so the
 * migrator holding the lock would wait for the one waiting for it, for ever.
 */
async function withAdvisoryLock<T>(knex: Knex, fn: () => Promise<T>): Promise<T> {
  // A session-level lock must be taken and released on the same connection.
  const conn = await knex.client.acquireConnection();
  try {
    for (;;) {
      const got = await knex.raw('SELECT pg_try_advisory_lock(?) AS ok', [MIGRATION_LOCK_KEY]).connection(conn);
      if ((got.rows[0] as { ok: boolean }).ok) break;
      await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
    }
    try {
      return await fn();
    } finally {
      await knex.raw('SELECT pg_advisory_unlock(?)', [MIGRATION_LOCK_KEY]).connection(conn);
    }
  } finally {
    await knex.client.releaseConnection(conn);
  }
}

const config: Knex.MigratorConfig = { migrationSource, tableName: 'knex_migrations' };

export async function migrateLatest(knex: Knex): Promise<string[]> {
  return withAdvisoryLock(knex, async () => {
    const [, applied] = (await knex.migrate.latest(config)) as [number, string[]];
    // The delta limit follows sink.maxDeltaBytes even when it changes after 009 ran.
    await applyDeltaLimit(knex, configuredDeltaLimit());
    return applied;
  });
}

export async function migrateRollback(knex: Knex, all = false): Promise<string[]> {
  return withAdvisoryLock(knex, async () => {
    const [, undone] = (await knex.migrate.rollback(config, all)) as [number, string[]];
    return undone;
  });
}

export async function migrationStatus(knex: Knex): Promise<{ done: string[]; pending: string[] }> {
  const [done, pending] = (await knex.migrate.list(config)) as [
    Array<{ name: string }>,
    Array<{ file: string } | string>,
  ];
  return {
    done: done.map((d) => d.name),
    pending: pending.map((p) => (typeof p === 'string' ? p : p.file)),
  };
}

async function main(): Promise<void> {
  const cmd = process.argv[2] ?? 'latest';
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set (see deploy/local/env.sh)');
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
  try {
    if (cmd === 'latest') console.log(`applied: ${(await migrateLatest(knex)).join(', ') || 'nothing (up to date)'}`);
    else if (cmd === 'rollback') console.log(`rolled back: ${(await migrateRollback(knex)).join(', ') || 'nothing'}`);
    else if (cmd === 'rollback-all')
      console.log(`rolled back: ${(await migrateRollback(knex, true)).join(', ') || 'nothing'}`);
    else if (cmd === 'status') console.log(JSON.stringify(await migrationStatus(knex)));
    else throw new Error(`unknown command ${cmd}: use latest | rollback | rollback-all | status`);
  } finally {
    await knex.destroy();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
