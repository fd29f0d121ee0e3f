/**
 * The editor's pages: my edits (filtered by stage and PFA, keyset-paged, with what is being sent
 * now) and the global search by PFA or modification id.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../control-api/errors';
import type { RouteContext } from '../control-api/route-context';
import { EDIT_STAGES, listUserEdits, searchEdits, summariseUserEdits, type EditStage } from '../postgres/console-edits';
import type { PageDeps } from './conflict-routes';
import { MyEditsPage } from './pages/my-edits';
import { SearchPage } from './pages/search';
import { withSending } from './sending';

export function registerEditPages(scope: FastifyInstance, ctx: RouteContext, deps: PageDeps): void {
  const { route: ROUTE, html, requireViewer } = deps;

  scope.get('/my-edits', ROUTE, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const q = req.query as Record<string, unknown>;
    const stageRaw = typeof q.stage === 'string' && q.stage !== '' ? q.stage : undefined;
    if (stageRaw !== undefined && !(stageRaw in EDIT_STAGES))
      throw new ApiError(400, 'BAD_FILTER', `stage must be one of ${Object.keys(EDIT_STAGES).join(', ')}`);
    const pfaId = typeof q.pfa === 'string' && q.pfa.trim() !== '' ? q.pfa.trim().slice(0, 200) : undefined;
    let before: { t: string; id: string } | undefined;
    if (typeof q.before === 'string' && q.before !== '') {
      const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)_([0-9a-f-]{36})$/.exec(q.before);
      if (!m) throw new ApiError(400, 'BAD_CURSOR', 'the page cursor (before) is not one this console made');
      before = { t: m[1]!, id: m[2]! };
    }
    const limit = 50;
    const orgs = v.caller.readableOrgs;
    const [edits, summary] = await Promise.all([
      listUserEdits(ctx.db, {
        userId: v.userId,
        organizationIds: orgs,
        stage: stageRaw as EditStage | undefined,
        pfaId,
        before,
        limit,
      }),
      summariseUserEdits(ctx.db, v.userId, orgs),
    ]);
    const shown = await withSending(ctx.db, ctx.config, edits, req.consoleView!.now);
    const last = edits[edits.length - 1];
    const params = new URLSearchParams();
    if (stageRaw) params.set('stage', stageRaw);
    if (pfaId) params.set('pfa', pfaId);
    if (last) params.set('before', `${last.createdAt.toISOString()}_${last.id}`);
    const nextHref = edits.length === limit && last ? `/console/my-edits?${params.toString()}` : undefined;
    return html(
      reply,
      <MyEditsPage
        view={req.consoleView!}
        edits={shown}
        stage={stageRaw as EditStage | undefined}
        pfaId={pfaId}
        nextHref={nextHref}
        summary={summary}
      />,
    );
  });

  // --- global search --------------------------------------------------------------------
  scope.get('/search', ROUTE, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const q = String((req.query as Record<string, unknown>).q ?? '').trim();
    if (q === '' || q.length > 200) {
      return html(
        reply,
        <SearchPage
          view={req.consoleView!}
          q={q}
          edits={[]}
          error="Type a PFA id or a modification id (at most 200 characters)."
        />,
        400,
      );
    }
    const edits = await withSending(
      ctx.db,
      ctx.config,
      await searchEdits(ctx.db, v.caller.readableOrgs, q, 100),
      req.consoleView!.now,
    );
    return html(reply, <SearchPage view={req.consoleView!} q={q} edits={edits} />);
  });
}
