import type { FastifyInstance } from 'fastify';
import { listUserNotifications, markAllNotificationsRead, markNotificationRead } from '../../postgres/notifications';
import { decodeCursor, isIdKey, pageOf, idOf, orNotFound } from '../pagination';
import { BIGINT_ID, closed, CURSOR, LIMIT } from '../schemas';
import { callerOf, type RouteContext } from '../route-context';

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
      return pageOf(items, q.limit, idOf);
    },
  );

  app.post(
    '/notifications/:id/read',
    {
      schema: {
        summary: 'mark one of my notifications read',
        tags: ['notifications'],
        rights: "the notification's user",
        params: closed({ id: BIGINT_ID }, ['id']),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { id } = req.params as { id: string };
      const row = orNotFound(
        await markNotificationRead(ctx.db, caller.userId, caller.readableOrgs, id),
        `notification ${id}`,
      );
      return row;
    },
  );

  app.post(
    '/notifications/read-all',
    {
      schema: {
        summary: 'mark all my notifications read',
        tags: ['notifications'],
        rights: 'any authenticated user',
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      return { marked: await markAllNotificationsRead(ctx.db, caller.userId, caller.readableOrgs) };
    },
  );
}
