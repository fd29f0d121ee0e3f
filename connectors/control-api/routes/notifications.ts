import type { FastifyInstance } from 'fastify';
import { listUserNotifications, markAllNotificationsRead, markNotificationRead } from '../../postgres/notifications';
import { notFound } from '../errors';
import { decodeCursor, encodeCursor, isIdKey } from '../pagination';
import { BIGINT_ID, closed, CURSOR, LIMIT } from '../schemas';
import { callerOf, type RouteContext } from '../server';

export function registerNotificationRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get(
    '/notifications',
    {
      schema: {
        summary: "the caller's notifications (a conflict on my edit, my edit failed...), newest first",
        tags: ['notifications'],
        rights: 'any authenticated user (their own rows, in their organizations)',
        querystring: closed({ unread: { type: 'boolean', default: false }, limit: LIMIT, cursor: CURSOR }),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const q = req.query as { unread: boolean; limit: number; cursor?: string };
      const items = await listUserNotifications(ctx.db, {
        userId: caller.userId,
        organizationIds: caller.readableOrgs,
        unreadOnly: q.unread,
        limit: q.limit,
        beforeId: decodeCursor(q.cursor, isIdKey)?.id,
      });
      const last = items[items.length - 1];
      return { items, nextCursor: items.length === q.limit && last ? encodeCursor({ id: last.id }) : null };
    },
  );

  app.post(
    '/notifications/:id/read',
    {
      schema: { summary: 'mark one of my notifications read', tags: ['notifications'], rights: 'the notification\'s user', params: closed({ id: BIGINT_ID }, ['id']) } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { id } = req.params as { id: string };
      const row = await markNotificationRead(ctx.db, caller.userId, caller.readableOrgs, id);
      if (!row) throw notFound(`notification ${id}`);
      return row;
    },
  );

  app.post(
    '/notifications/read-all',
    { schema: { summary: 'mark all my notifications read', tags: ['notifications'], rights: 'any authenticated user' } as Record<string, unknown> },
    async (req) => {
      const caller = callerOf(req);
      return { marked: await markAllNotificationsRead(ctx.db, caller.userId, caller.readableOrgs) };
    },
  );
}
