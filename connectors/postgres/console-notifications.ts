/**
 * The console's notification reads: the unread count, and the conflict each conflict notification
 * is about (its deep link).
 */
import type { Knex } from 'knex';

export async function unreadCount(db: Knex, userId: string, organizationIds: readonly string[]): Promise<number> {
  if (organizationIds.length === 0) return 0;
  const [r] = await db('notification')
    .where({ user_id: userId })
    .whereIn('organization_id', [...organizationIds])
    .whereNull('read_at')
    .count<{ n: string }[]>({ n: '*' });
  return Number(r?.n ?? 0);
}

/** modification id → the newest conflict on it, for the given modifications. */
export async function conflictsOfModifications(
  db: Knex,
  organizationIds: readonly string[],
  modificationIds: readonly string[],
): Promise<Map<string, string>> {
  if (modificationIds.length === 0 || organizationIds.length === 0) return new Map();
  const rows = (await db('sync_conflict')
    .whereIn('organization_id', [...organizationIds])
    .whereIn('modification_id', [...modificationIds])
    .orderBy('created_at', 'asc')
    .select('id', 'modification_id')) as Array<{ id: string; modification_id: string }>;
  return new Map(rows.map((r) => [r.modification_id, r.id]));
}
