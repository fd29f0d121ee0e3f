import type { Knex } from 'knex';

/**
 * Bounds what one edit can put into the change stream (issue 13, item 1).
 *
 * Before: REPLICA IDENTITY FULL made every update of a modification carry the whole row twice
 * (before and after), so the sink's own status write of an ~8 MiB edit produced a change event
 * over Kafka Connect's producer limit and stopped Debezium for every organization.
 *
 * After:
 * - `delta` is limited in the database to `sink.maxDeltaBytes` (octet length of its JSON text,
 *   the same measure the sink applies to the event): a too-large edit fails at the application's
 *   INSERT/UPDATE with `pfa_modification_delta_size_check`, it never reaches the stream.
 *   migrate.ts re-applies the limit from the configuration after every `latest` (NOT VALID:
 *   rows already stored are not re-checked, new writes are).
 * - the replica identity is a unique index on (id, organization_id, pfa_id, sync_status): an
 *   update that changes the status logs just these four columns as the old row (Debezium's
 *   `before`), the key columns Debezium needs for message.key.columns included.
 * - the publication Debezium reads carries only rows whose sync_status is 'committed'
 *   (PostgreSQL 15 row filter). pgoutput turns an update into committed into an INSERT (op c,
 *   the full new row), the sink's claim committed → syncing into a DELETE carrying the four
 *   identity columns (op d, skipped by the sink), and the later status writes (synced,
 *   rejected, failed, conflict…) into nothing at all.
 *
 * The publication of the live `public` schema is Debezium's (`publication.name` in
 * connectors/debezium/pfa-modification.json, autocreate disabled); a migration run in another
 * schema (the tests do) gets its own publication so it never changes the live one.
 */
export const PUBLICATION = 'pems_sync_pfa_modification';
export const DELTA_SIZE_CHECK = 'pfa_modification_delta_size_check';
const IDENTITY_INDEX = 'pfa_modification_capture_identity';

async function currentSchema(knex: Knex): Promise<string> {
  const r = await knex.raw('SELECT current_schema() AS s');
  return (r.rows[0] as { s: string }).s;
}

export function publicationFor(schema: string): string {
  return schema === 'public' ? PUBLICATION : `${PUBLICATION}_${schema}`.slice(0, 63);
}

/** Sets the delta limit (bytes of delta::text) to `maxBytes`; a no-op when it already is. */
export async function applyDeltaLimit(knex: Knex, maxBytes: number): Promise<void> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
    throw new Error(`delta limit must be a positive integer, got ${maxBytes}`);
  const def = await knex.raw(
    `SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
      WHERE c.conname = ? AND c.conrelid = to_regclass('pfa_modification')`,
    [DELTA_SIZE_CHECK],
  );
  const current = (def.rows[0] as { def: string } | undefined)?.def ?? '';
  if (new RegExp(`<= ${maxBytes}\\)`).test(current)) return;
  await knex.transaction(async (trx) => {
    await trx.raw(`ALTER TABLE pfa_modification DROP CONSTRAINT IF EXISTS ${DELTA_SIZE_CHECK}`);
    await trx.raw(
      `ALTER TABLE pfa_modification ADD CONSTRAINT ${DELTA_SIZE_CHECK} CHECK (octet_length(delta::text) <= ${maxBytes}) NOT VALID`,
    );
  });
}

/** The limit migrations apply: `sink.maxDeltaBytes` (PEMS_SYNC_MAX_DELTA_BYTES), default 1 MiB. */
export function configuredDeltaLimit(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PEMS_SYNC_MAX_DELTA_BYTES;
  if (raw === undefined || raw === '') return 1_048_576;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1024) {
    throw new Error(`sink.maxDeltaBytes (PEMS_SYNC_MAX_DELTA_BYTES) must be an integer >= 1024, got '${raw}'`);
  }
  return n;
}

export async function up(knex: Knex): Promise<void> {
  const version = await knex.raw("SELECT current_setting('server_version_num')::int AS v");
  if ((version.rows[0] as { v: number }).v < 150000) {
    throw new Error('pems-sync needs PostgreSQL 15 or newer (publication row filters bound the change stream)');
  }
  await applyDeltaLimit(knex, configuredDeltaLimit());
  await knex.raw(
    `CREATE UNIQUE INDEX IF NOT EXISTS ${IDENTITY_INDEX} ON pfa_modification (id, organization_id, pfa_id, sync_status)`,
  );
  await knex.raw(`ALTER TABLE pfa_modification REPLICA IDENTITY USING INDEX ${IDENTITY_INDEX}`);
  const schema = await currentSchema(knex);
  const pub = publicationFor(schema);
  const table = `"${schema.replace(/"/g, '""')}".pfa_modification`;
  const exists = await knex.raw('SELECT 1 FROM pg_publication WHERE pubname = ?', [pub]);
  const verb =
    exists.rows.length > 0 ? `ALTER PUBLICATION "${pub}" SET TABLE` : `CREATE PUBLICATION "${pub}" FOR TABLE`;
  await knex.raw(`${verb} ${table} WHERE (sync_status = 'committed')`);
}

export async function down(knex: Knex): Promise<void> {
  const schema = await currentSchema(knex);
  const pub = publicationFor(schema);
  if (schema === 'public') await knex.raw(`ALTER PUBLICATION "${pub}" SET TABLE public.pfa_modification`);
  else await knex.raw(`DROP PUBLICATION IF EXISTS "${pub}"`);
  await knex.raw('ALTER TABLE pfa_modification REPLICA IDENTITY FULL');
  await knex.raw(`DROP INDEX IF EXISTS ${IDENTITY_INDEX}`);
  await knex.raw(`ALTER TABLE pfa_modification DROP CONSTRAINT IF EXISTS ${DELTA_SIZE_CHECK}`);
}
