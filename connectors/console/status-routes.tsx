/**
 * The status page (every organization the viewer may read, or one) and its live fragment over
 * server-sent events: rights and the session are re-read every tick.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../control-api/errors';
import type { RouteContext } from '../control-api/route-context';
import type { PageDeps } from './conflict-routes';
import { serveLiveStream, type LiveStreams } from './live-streams';
import { StatusFragment, StatusPage } from './pages/status';
import { loadView, type Viewer } from './session';
import type { StatusModel } from './status-model';

export function registerStatusPages(
  scope: FastifyInstance,
  ctx: RouteContext,
  deps: PageDeps & { streams: LiveStreams; model: StatusModel },
): void {
  const { route: ROUTE, html, requireViewer, streams, model } = deps;

  const statusScope = (v: Viewer, org: unknown): { orgs: string[]; organization?: string } => {
    const all = v.caller.readableOrgs.sort();
    if (typeof org !== 'string' || org === '') return { orgs: all };
    // Not a member: the same 404 as the API (its existence is not disclosed).
    v.caller.scope(org);
    return { orgs: all, organization: org };
  };

  scope.get('/status', ROUTE, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const { orgs, organization } = statusScope(v, (req.query as Record<string, unknown>).organization);
    const s = await model.snapshot(organization ? [organization] : orgs);
    return html(
      reply,
      <StatusPage
        view={req.consoleView!}
        s={s}
        organization={organization}
        orgs={orgs}
        target={ctx.config.console.freshnessTargetSeconds}
        liveIntervalMs={ctx.config.console.liveIntervalMs}
      />,
    );
  });

  scope.get('/status/live', ROUTE, async (req, reply) => {
    const v = req.consoleView?.viewer;
    if (!v) throw new ApiError(401, 'UNAUTHORIZED', 'your console session has ended: sign in again');
    const { orgs, organization } = statusScope(v, (req.query as Record<string, unknown>).organization);
    serveLiveStream(req, reply, streams, {
      intervalMs: ctx.config.console.liveIntervalMs,
      tick: async (t) => {
        // Rights and the session are re-read every tick: a revoked right or a signed-out session ends the stream.
        const view = await loadView(ctx.db, req);
        if (!view.viewer) {
          t.send('signed-out', 'your console session has ended');
          return t.end();
        }
        const scoped = (organization ? [organization] : orgs).filter((o) => view.viewer!.caller.canRead(o));
        const s = await model.sharedSnapshot(scoped);
        const fragment = await (
          <StatusFragment s={s} view={view} target={ctx.config.console.freshnessTargetSeconds} />
        );
        t.send('status', fragment, String(s.at.getTime()));
      },
      failed: (err, t) => {
        req.log.warn({ err }, 'console live status tick failed');
        t.send('problem', 'the status could not be read just now; retrying');
      },
    });
  });
}
