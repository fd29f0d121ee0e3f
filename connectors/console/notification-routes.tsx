/**
 * Notifications: the list with deep links, mark read (the same markNotificationRead /
 * markAllNotificationsRead as the API), and the unread count live over server-sent events.
 */
import { serveLiveStream, type LiveStreams } from './live-streams';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../control-api/errors';
import type { RouteContext } from '../control-api/route-context';
import { conflictsOfModifications, unreadCount } from '../postgres/console-notifications';
import { listUserNotifications, markAllNotificationsRead, markNotificationRead } from '../postgres/notifications';
import type { PageDeps } from './conflict-routes';
import { describeNotification, NotificationsPage } from './pages/notifications';
import { loadView, safeReturnPath } from './session';

export function registerNotificationPages(
  scope: FastifyInstance,
  ctx: RouteContext,
  deps: PageDeps & { streams: LiveStreams },
): void {
  const { route, html, requireViewer } = deps;

  scope.get('/notifications', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const unreadOnly = (req.query as Record<string, unknown>).unread === '1';
    const orgs = v.caller.readableOrgs;
    const [items, unread] = await Promise.all([
      listUserNotifications(ctx.db, { userId: v.userId, organizationIds: orgs, unreadOnly, limit: 100 }),
      unreadCount(ctx.db, v.userId, orgs),
    ]);
    const mods = items
      .filter((n) => n.kind === 'conflict')
      .map((n) => (n.payload as { modificationId?: unknown }).modificationId)
      .filter((m): m is string => typeof m === 'string');
    const conflicts = await conflictsOfModifications(
      ctx.db,
      orgs,
      mods.filter((m) => /^[0-9a-f-]{36}$/i.test(m)),
    );
    const views = items.map((n) =>
      describeNotification(n, conflicts.get(String((n.payload as { modificationId?: unknown }).modificationId))),
    );
    return html(
      reply,
      <NotificationsPage view={req.consoleView!} items={views} unread={unread} unreadOnly={unreadOnly} />,
    );
  });

  scope.post('/notifications/:id/read', route, async (req, reply) => {
    const v = req.consoleView!.viewer!;
    const { id } = req.params as { id: string };
    if (!/^\d{1,19}$/.test(id)) throw new ApiError(404, 'NOT_FOUND', 'notification not found');
    const row = await markNotificationRead(ctx.db, v.userId, v.caller.readableOrgs, id);
    if (!row) throw new ApiError(404, 'NOT_FOUND', `notification ${id} not found`);
    return reply.redirect(
      safeReturnPath((req.body as Record<string, unknown> | undefined)?.return_to ?? '/console/notifications'),
      303,
    );
  });

  scope.post('/notifications/read-all', route, async (req, reply) => {
    const v = req.consoleView!.viewer!;
    await markAllNotificationsRead(ctx.db, v.userId, v.caller.readableOrgs);
    return reply.redirect('/console/notifications', 303);
  });

  scope.get('/notifications/live', route, async (req, reply) => {
    if (!req.consoleView?.viewer)
      throw new ApiError(401, 'UNAUTHORIZED', 'your console session has ended: sign in again');
    let last = -1;
    serveLiveStream(req, reply, deps.streams, {
      intervalMs: ctx.config.console.liveIntervalMs,
      tick: async (t) => {
        const view = await loadView(ctx.db, req);
        if (!view.viewer) {
          t.send('signed-out', 'ended');
          return t.end();
        }
        const n = await unreadCount(ctx.db, view.viewer.userId, view.viewer.caller.readableOrgs);
        if (n !== last) {
          last = n;
          t.send('unread', String(n));
        }
      },
      failed: (err) => req.log.warn({ err }, 'console unread count tick failed'),
    });
  });
}
