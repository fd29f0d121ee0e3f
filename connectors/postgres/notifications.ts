/**
 * Notifications: rows for the app to show a user (user_id set), and rows for the operators of
 * an organization (user_id null) that the webhook dispatcher delivers at least once.
 */
import type { Knex } from 'knex';
import { notificationRow, type NotificationKind, type NotificationPayloads } from '../../streams/notifications';

export interface NotificationRow {
  id: string;
  organizationId: string;
  userId: string | null;
  kind: NotificationKind;
  payload: Record<string, unknown>;
  readAt: string | null;
  createdAt: string;
}

function toNotification(r: Record<string, any>): NotificationRow {
  return {
    id: String(r.id),
    organizationId: r.organization_id,
    userId: r.user_id,
    kind: r.kind,
    payload: r.payload,
    readAt: r.read_at ? new Date(r.read_at).toISOString() : null,
    createdAt: new Date(r.created_at).toISOString(),
  };
}

/** Inserts one notification: for `userId`, or for the organization's operators when null. */
export async function insertNotification<K extends NotificationKind>(
  db: Knex | Knex.Transaction,
  organizationId: string,
  userId: string | null,
  kind: K,
  payload: NotificationPayloads[K],
): Promise<void> {
  await db('notification').insert(notificationRow(organizationId, userId, kind, payload));
}

/** The caller's own notifications, newest first, within their organizations. */
export async function listUserNotifications(
  db: Knex,
  f: { userId: string; organizationIds: readonly string[]; unreadOnly: boolean; limit: number; beforeId?: string },
): Promise<NotificationRow[]> {
  const q = db('notification')
    .where({ user_id: f.userId })
    .whereIn('organization_id', [...f.organizationIds]);
  if (f.unreadOnly) q.whereNull('read_at');
  if (f.beforeId) q.where('id', '<', f.beforeId);
  const rows = await q.orderBy('id', 'desc').limit(f.limit);
  return rows.map(toNotification);
}

/** Marks the caller's notification read (idempotent); false when it is not theirs or not there. */
export async function markNotificationRead(
  db: Knex,
  userId: string,
  organizationIds: readonly string[],
  id: string,
): Promise<NotificationRow | null> {
  const [row] = await db('notification')
    .where({ id, user_id: userId })
    .whereIn('organization_id', [...organizationIds])
    .update({ read_at: db.raw('coalesce(read_at, now())') })
    .returning('*');
  return row ? toNotification(row) : null;
}

export async function markAllNotificationsRead(
  db: Knex,
  userId: string,
  organizationIds: readonly string[],
): Promise<number> {
  return db('notification')
    .where({ user_id: userId })
    .whereIn('organization_id', [...organizationIds])
    .whereNull('read_at')
    .update({ read_at: db.fn.now() });
}

export interface OperatorNotification extends NotificationRow {
  deliveryAttempts: number;
}

/**
 * Claims up to `limit` undelivered operator notifications of `kinds` that are due, by pushing
 * their next_attempt_at out by `leaseMs` (FOR UPDATE SKIP LOCKED: several API instances never
 * claim the same row). A dispatcher that dies mid-delivery loses only its lease.
 */
export async function claimOperatorNotifications(
  db: Knex,
  opts: {
    kinds: readonly string[];
    limit: number;
    leaseMs: number;
    maxAttempts: number;
    organizationIds?: readonly string[];
  },
): Promise<OperatorNotification[]> {
  const params: unknown[] = [opts.leaseMs, [...opts.kinds], opts.maxAttempts];
  let orgFilter = '';
  if (opts.organizationIds) {
    orgFilter = 'AND organization_id = ANY(?)';
    params.push([...opts.organizationIds]);
  }
  params.push(opts.limit);
  const result = await db.raw(
    `UPDATE notification SET next_attempt_at = now() + (? * interval '1 millisecond')
     WHERE id IN (
       SELECT id FROM notification
       WHERE user_id IS NULL AND delivered_at IS NULL AND kind = ANY(?) AND delivery_attempts < ?
         AND (next_attempt_at IS NULL OR next_attempt_at <= now()) ${orgFilter}
       ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED)
     RETURNING *`,
    params as Knex.RawBinding[],
  );
  return (result.rows as Array<Record<string, any>>)
    .map((r) => ({ ...toNotification(r), deliveryAttempts: Number(r.delivery_attempts) }))
    .sort((a, b) => Number(a.id) - Number(b.id));
}

export async function markNotificationDelivered(db: Knex, id: string): Promise<void> {
  await db('notification')
    .where({ id })
    .update({
      delivered_at: db.fn.now(),
      delivery_attempts: db.raw('delivery_attempts + 1'),
      last_delivery_error: null,
      next_attempt_at: null,
    });
}

export async function markNotificationDeliveryFailed(
  db: Knex,
  id: string,
  error: string,
  retryInMs: number,
): Promise<void> {
  await db('notification')
    .where({ id })
    .update({
      delivery_attempts: db.raw('delivery_attempts + 1'),
      last_delivery_error: error.slice(0, 2000),
      next_attempt_at: db.raw(`now() + (? * interval '1 millisecond')`, [retryInMs]),
    });
}
