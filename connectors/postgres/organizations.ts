/**
 * Organizations and their members as the operator's CLI manages them. Credentials are stored
 * only as ciphertext (connectors/pems/credentials); nothing here ever reads a plaintext.
 */
import type { Knex } from 'knex';

export interface OrganizationRow {
  id: string;
  name: string;
  syncEnabled: boolean;
  pemsBaseUrl: string | null;
  pemsTenant: string | null;
  /** The ciphertext (never shown; `describeCredential` tells its version and key id). */
  credentialEncrypted: string | null;
  createdAt: string;
  updatedAt: string;
}

function toOrganization(r: Record<string, any>): OrganizationRow {
  return {
    id: r.id,
    name: r.name,
    syncEnabled: Boolean(r.sync_enabled),
    pemsBaseUrl: r.pems_base_url ?? null,
    pemsTenant: r.pems_tenant ?? null,
    credentialEncrypted: r.pems_credential_encrypted ?? null,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

export interface OrganizationInput {
  name?: string;
  syncEnabled?: boolean;
  pemsBaseUrl?: string;
  pemsTenant?: string;
  credentialEncrypted?: string;
}

function columns(input: OrganizationInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (input.name !== undefined) out.name = input.name;
  if (input.syncEnabled !== undefined) out.sync_enabled = input.syncEnabled;
  if (input.pemsBaseUrl !== undefined) out.pems_base_url = input.pemsBaseUrl;
  if (input.pemsTenant !== undefined) out.pems_tenant = input.pemsTenant;
  if (input.credentialEncrypted !== undefined) out.pems_credential_encrypted = input.credentialEncrypted;
  return out;
}

/** Inserts a new organization; false when the id exists already. */
export async function insertOrganization(
  db: Knex,
  id: string,
  input: OrganizationInput & { name: string },
): Promise<boolean> {
  const rows = await db('organization')
    .insert({ id, ...columns(input) })
    .onConflict('id')
    .ignore()
    .returning('id');
  return rows.length === 1;
}

/** Updates the given fields; false when there is no such organization. */
export async function updateOrganization(db: Knex, id: string, input: OrganizationInput): Promise<boolean> {
  const n = await db('organization')
    .where({ id })
    .update({ ...columns(input), updated_at: db.fn.now() });
  return n === 1;
}

export async function getOrganization(db: Knex, id: string): Promise<OrganizationRow | null> {
  const r = await db('organization').where({ id }).first();
  return r ? toOrganization(r) : null;
}

/** The organizations of `ids` that exist (one query; the sink reads them every round). */
export interface PemsAccess {
  pemsBaseUrl: string | null;
  pemsTenant: string | null;
  credentialEncrypted: string | null;
}

/** Where and how an organization reaches PEMS (URL, tenant, credential ciphertext); undefined when there is none. */
export async function getPemsAccess(db: Knex, id: string): Promise<PemsAccess | undefined> {
  const row = (await db('organization')
    .where({ id })
    .first('pems_base_url', 'pems_tenant', 'pems_credential_encrypted')) as
    { pems_base_url: string | null; pems_tenant: string | null; pems_credential_encrypted: string | null } | undefined;
  if (!row) return undefined;
  return {
    pemsBaseUrl: row.pems_base_url,
    pemsTenant: row.pems_tenant,
    credentialEncrypted: row.pems_credential_encrypted,
  };
}

export async function getOrganizations(db: Knex, ids: readonly string[]): Promise<OrganizationRow[]> {
  if (ids.length === 0) return [];
  return (
    await db('organization')
      .whereIn('id', [...ids])
      .select('*')
  ).map(toOrganization);
}

export async function listOrganizations(db: Knex): Promise<OrganizationRow[]> {
  return (await db('organization').orderBy('id').select('*')).map(toOrganization);
}

/** Replaces a credential only if it is still the one read (a concurrent change wins; the caller reports it). */
export async function replaceCredential(db: Knex, id: string, expected: string, next: string): Promise<boolean> {
  const n = await db('organization')
    .where({ id, pems_credential_encrypted: expected })
    .update({ pems_credential_encrypted: next, updated_at: db.fn.now() });
  return n === 1;
}

export interface MemberRights {
  read?: boolean;
  sync?: boolean;
  admin?: boolean;
}

export async function userExists(db: Knex, userId: string): Promise<boolean> {
  return (await db('app_user').where({ id: userId }).first('id')) !== undefined;
}

export async function ensureUser(db: Knex, userId: string, displayName?: string): Promise<void> {
  await db('app_user')
    .insert({ id: userId, username: userId, display_name: displayName ?? null })
    .onConflict('id')
    .ignore();
}

/** Whether the user exists and is active; undefined when there is no such user. */
export async function userIsActive(db: Knex, userId: string): Promise<boolean | undefined> {
  const row = (await db('app_user').where({ id: userId }).first('is_active')) as { is_active: boolean } | undefined;
  return row?.is_active;
}

export interface MembershipRights {
  organizationId: string;
  read: boolean;
  sync: boolean;
  admin: boolean;
}

/**
 * An active user's memberships with their rights as stored (perm_read, perm_sync, is_admin);
 * null when the user does not exist or is inactive.
 */
export async function activeUserMemberships(db: Knex, userId: string): Promise<MembershipRights[] | null> {
  const user = await db('app_user').where({ id: userId, is_active: true }).first('id');
  if (!user) return null;
  const rows = (await db('user_organization')
    .where({ user_id: userId })
    .select('organization_id', 'perm_read', 'perm_sync', 'is_admin')) as Array<{
    organization_id: string;
    perm_read: boolean;
    perm_sync: boolean;
    is_admin: boolean;
  }>;
  return rows.map((r) => ({
    organizationId: r.organization_id,
    read: r.perm_read,
    sync: r.perm_sync,
    admin: r.is_admin,
  }));
}

/** Grants rights (only those given become true); creates the membership when missing. */
export async function grantRights(
  db: Knex,
  userId: string,
  organizationId: string,
  rights: MemberRights,
): Promise<void> {
  const set: Record<string, boolean> = {};
  if (rights.read) set.perm_read = true;
  if (rights.sync) set.perm_sync = true;
  if (rights.admin) set.is_admin = true;
  await db('user_organization')
    .insert({
      user_id: userId,
      organization_id: organizationId,
      perm_read: true,
      perm_sync: rights.sync ?? false,
      is_admin: rights.admin ?? false,
    })
    .onConflict(['user_id', 'organization_id'])
    .merge({ ...set, updated_at: db.fn.now() });
}

/** Revokes the given rights, or the whole membership when `all`; false when there was no membership. */
export async function revokeRights(
  db: Knex,
  userId: string,
  organizationId: string,
  rights: MemberRights & { all?: boolean },
): Promise<boolean> {
  const where = { user_id: userId, organization_id: organizationId };
  if (rights.all) return (await db('user_organization').where(where).delete()) === 1;
  const set: Record<string, unknown> = { updated_at: db.fn.now() };
  if (rights.sync) set.perm_sync = false;
  if (rights.admin) set.is_admin = false;
  if (rights.read) set.perm_read = false;
  return (await db('user_organization').where(where).update(set)) === 1;
}

export interface Membership {
  userId: string;
  organizationId: string;
  read: boolean;
  sync: boolean;
  admin: boolean;
  active: boolean;
}

export async function memberships(
  db: Knex,
  filter: { organizationId?: string; userId?: string },
): Promise<Membership[]> {
  const q = db('user_organization as uo')
    .join('app_user as u', 'u.id', 'uo.user_id')
    .orderBy(['uo.organization_id', 'uo.user_id']);
  if (filter.organizationId) q.where('uo.organization_id', filter.organizationId);
  if (filter.userId) q.where('uo.user_id', filter.userId);
  const rows = await q.select(
    'uo.user_id',
    'uo.organization_id',
    'uo.perm_read',
    'uo.perm_sync',
    'uo.is_admin',
    'u.is_active',
  );
  return rows.map((r: Record<string, any>) => ({
    userId: r.user_id,
    organizationId: r.organization_id,
    read: Boolean(r.perm_read),
    sync: Boolean(r.perm_sync),
    admin: Boolean(r.is_admin),
    active: Boolean(r.is_active),
  }));
}

/** Of the given (user, organization) pairs, those where an active user holds perm_Sync right now. */
export async function syncPermittedMembers(
  db: Knex,
  pairs: ReadonlyArray<{ userId: string; organizationId: string }>,
): Promise<Array<{ userId: string; organizationId: string }>> {
  if (pairs.length === 0) return [];
  const rows = await db('user_organization as uo')
    .join('app_user as u', 'u.id', 'uo.user_id')
    .whereIn(
      ['uo.user_id', 'uo.organization_id'],
      pairs.map((p) => [p.userId, p.organizationId]),
    )
    .andWhere('uo.perm_sync', true)
    .andWhere('u.is_active', true)
    .select('uo.user_id', 'uo.organization_id');
  return rows.map((r: Record<string, any>) => ({ userId: r.user_id, organizationId: r.organization_id }));
}

/** Mirror size and the read side's cursor of an organization (for `org show` and `org load`). */
export async function readSideState(
  db: Knex,
  organizationId: string,
): Promise<{ mirrorRecords: number; cursor: Record<string, unknown> | null }> {
  const [count, cursor] = await Promise.all([
    db('pfa_mirror').where({ organization_id: organizationId }).count<{ n: string }[]>({ n: '*' }),
    db('pems_source_cursor').where({ organization_id: organizationId }).first(),
  ]);
  return { mirrorRecords: Number(count[0]?.n ?? 0), cursor: cursor ?? null };
}
