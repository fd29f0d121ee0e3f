import knexFactory, { type Knex } from 'knex';

export interface DatabaseOptions {
  /** postgres://user:password@host:port/db. Never logged. */
  url: string;
  /** Pool size per process; the sink holds one connection per in-flight batch. Default 10. */
  poolMax?: number;
  /** Postgres schema to use first (tests run migrations in a throwaway schema). */
  searchPath?: string;
  applicationName?: string;
}

export function createDatabase(opts: DatabaseOptions): Knex {
  const connection: Knex.PgConnectionConfig = {
    connectionString: opts.url,
    application_name: opts.applicationName ?? 'pems-sync',
  };
  return knexFactory({
    client: 'pg',
    connection,
    searchPath: opts.searchPath ? [opts.searchPath, 'public'] : undefined,
    pool: { min: 0, max: opts.poolMax ?? 10 },
  });
}

/** One round trip (`SELECT 1`): resolves when the database answers. */
export async function pingDatabase(db: Knex): Promise<void> {
  await db.raw('SELECT 1');
}
