import type { Knex } from 'knex';

/**
 * Least privilege for the running processes (issue 13, item 2). Migrations run as the owner of
 * the schema; the sink, the read side and the control API can connect as the application role
 * (`PEMS_SYNC_APP_ROLE`, default pems_sync_app, created by deploy/local/stack.sh or your DBA):
 * data access only. It owns nothing, so it cannot ALTER a table, disable a trigger or drop a
 * constraint; it is not granted TRUNCATE; on audit_log it may only SELECT and INSERT.
 * Skipped (with a notice) when the role does not exist.
 */
export function appRole(env: NodeJS.ProcessEnv = process.env): string {
  const role = env.PEMS_SYNC_APP_ROLE ?? 'pems_sync_app';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new Error(`PEMS_SYNC_APP_ROLE '${role}' is not a plain role name`);
  return role;
}

async function roleExists(knex: Knex, role: string): Promise<boolean> {
  const r = await knex.raw('SELECT 1 FROM pg_roles WHERE rolname = ?', [role]);
  return r.rows.length > 0;
}

async function schemaName(knex: Knex): Promise<string> {
  return ((await knex.raw('SELECT current_schema() AS s')).rows[0] as { s: string }).s;
}

export async function up(knex: Knex): Promise<void> {
  const role = appRole();
  if (!(await roleExists(knex, role))) {
    console.warn(`migration 011: role ${role} does not exist; no grants (processes then need the owner role)`);
    return;
  }
  const schema = await schemaName(knex);
  await knex.raw('GRANT USAGE ON SCHEMA ?? TO ??', [schema, role]);
  await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ?? TO ??', [schema, role]);
  await knex.raw('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ?? TO ??', [schema, role]);
  await knex.raw('REVOKE UPDATE, DELETE ON audit_log FROM ??', [role]);
  await knex.raw('REVOKE ALL ON knex_migrations, knex_migrations_lock FROM ??', [role]);
  // Tables later migrations create: data access for the role too (audit_log stays as above).
  await knex.raw('ALTER DEFAULT PRIVILEGES IN SCHEMA ?? GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ??', [
    schema,
    role,
  ]);
  await knex.raw('ALTER DEFAULT PRIVILEGES IN SCHEMA ?? GRANT USAGE, SELECT ON SEQUENCES TO ??', [schema, role]);
}

export async function down(knex: Knex): Promise<void> {
  const role = appRole();
  if (!(await roleExists(knex, role))) return;
  const schema = await schemaName(knex);
  await knex.raw('ALTER DEFAULT PRIVILEGES IN SCHEMA ?? REVOKE ALL ON TABLES FROM ??', [schema, role]);
  await knex.raw('ALTER DEFAULT PRIVILEGES IN SCHEMA ?? REVOKE ALL ON SEQUENCES FROM ??', [schema, role]);
  await knex.raw('REVOKE ALL ON ALL TABLES IN SCHEMA ?? FROM ??', [schema, role]);
  await knex.raw('REVOKE ALL ON ALL SEQUENCES IN SCHEMA ?? FROM ??', [schema, role]);
  await knex.raw('REVOKE USAGE ON SCHEMA ?? FROM ??', [schema, role]);
}
