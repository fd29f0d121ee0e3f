/**
 * Console sessions (migration 012): only the SHA-256 of the cookie is stored, so the table
 * alone signs no one in. Expired rows are never returned and are deleted as they are met.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';

export interface ConsoleSession {
  userId: string;
  csrfToken: string;
  expiresAt: Date;
}

export const hashSessionId = (cookie: string): string => createHash('sha256').update(cookie).digest('hex');

export async function insertConsoleSession(
  db: Knex,
  s: { cookie: string; userId: string; csrfToken: string; ttlSeconds: number },
): Promise<void> {
  await db('console_session').insert({
    id_hash: hashSessionId(s.cookie),
    user_id: s.userId,
    csrf_token: s.csrfToken,
    expires_at: db.raw(`now() + make_interval(secs => ?)`, [s.ttlSeconds]),
  });
}

/** The live session of a cookie, or undefined (unknown, expired: an expired row is deleted). */
export async function findConsoleSession(db: Knex, cookie: string): Promise<ConsoleSession | undefined> {
  const row = (await db('console_session')
    .where({ id_hash: hashSessionId(cookie) })
    .first('user_id', 'csrf_token', 'expires_at', db.raw('expires_at <= now() AS expired'))) as
    { user_id: string; csrf_token: string; expires_at: Date; expired: boolean } | undefined;
  if (!row) return undefined;
  if (row.expired) {
    await deleteConsoleSession(db, cookie);
    return undefined;
  }
  return { userId: row.user_id, csrfToken: row.csrf_token, expiresAt: new Date(row.expires_at) };
}

export async function deleteConsoleSession(db: Knex, cookie: string): Promise<void> {
  await db('console_session')
    .where({ id_hash: hashSessionId(cookie) })
    .delete();
}

/** The users a local (demo) sign-in may choose from: the configured ids that exist and are active. */
export async function listSignInUsers(
  db: Knex,
  ids: readonly string[],
): Promise<Array<{ id: string; displayName: string }>> {
  if (ids.length === 0) return [];
  const rows = (await db('app_user')
    .whereIn('id', [...ids])
    .where({ is_active: true })
    .orderBy('id')
    .select('id', 'username', 'display_name')) as Array<{
    id: string;
    username: string;
    display_name: string | null;
  }>;
  return rows.map((r) => ({ id: r.id, displayName: r.display_name ?? r.username }));
}

/** A user's name as the console shows it (display name, else username); undefined when there is no such user. */
export async function userDisplayName(db: Knex, userId: string): Promise<string | undefined> {
  const row = (await db('app_user').where({ id: userId }).first('username', 'display_name')) as
    { username: string; display_name: string | null } | undefined;
  return row ? (row.display_name ?? row.username) : undefined;
}
