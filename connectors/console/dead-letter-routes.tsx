/**
 * The dead-letter screens' routes. Replay and discard go through createDeadLetterActions — the
 * same functions as POST /dead-letters/:id/replay, /dead-letters/replay and /:id/discard — so
 * rights and states are checked exactly as for the API.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { previewReplay } from '../../streams/replay-preview';
import { ApiError, toApiError } from '../control-api/errors';
import { createDeadLetterActions } from '../control-api/routes/dead-letters';
import type { RouteContext } from '../control-api/route-context';
import { attemptsOf, groupDeadLetters, modificationOf } from '../postgres/console-dead-letters';
import { readConflictContext } from '../postgres/console-conflicts';
import { getDeadLetter, listDeadLetters, type DeadLetterRow } from '../postgres/dead-letters';
import type { PageDeps } from './conflict-routes';
import { DeadLetterPage } from './pages/dead-letter';
import { DeadLettersPage, ReplayResultsPage, type DeadLetterFilters } from './pages/dead-letters';
import type { Viewer } from './session';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerDeadLetterPages(scope: FastifyInstance, ctx: RouteContext, deps: PageDeps): void {
  const { route, html, requireViewer } = deps;
  const actions = createDeadLetterActions(ctx);
  const canDiscard = (v: Viewer, org: string | null): { allowed: boolean; reason?: string } =>
    org && v.caller.orgs.get(org)?.admin === true
      ? { allowed: true }
      : { allowed: false, reason: `discarding needs an administrator of ${org ?? 'the organization'}` };
  const canAct = (v: Viewer, org: string | null): { allowed: boolean; reason?: string } =>
    org && v.caller.orgs.get(org)?.sync === true
      ? { allowed: true }
      : { allowed: false, reason: `replaying and discarding need perm_Sync in ${org ?? 'the organization'}` };

  scope.get('/dead-letters', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const q = req.query as Record<string, unknown>;
    const status = typeof q.status === 'string' && q.status !== '' ? q.status : 'open';
    if (!['open', 'replayed', 'discarded'].includes(status))
      throw new ApiError(400, 'BAD_FILTER', 'status must be open, replayed or discarded');
    const f: DeadLetterFilters = {
      organization: typeof q.organization === 'string' && q.organization !== '' ? q.organization : undefined,
      status,
      cause: typeof q.cause === 'string' && q.cause.trim() !== '' ? q.cause.trim().slice(0, 100) : undefined,
    };
    const orgs = v.caller.scope(f.organization);
    const [groups, items] = await Promise.all([
      groupDeadLetters(ctx.db, orgs, status),
      listDeadLetters(ctx.db, { organizationIds: orgs, status, errorCode: f.cause, limit: 100 }),
    ]);
    const syncable = orgs.filter((o) => v.caller.orgs.get(o)?.sync === true);
    const canReplay =
      syncable.length > 0
        ? { allowed: true }
        : { allowed: false, reason: "replaying needs perm_Sync in the dead letters' organization" };
    return html(
      reply,
      <DeadLettersPage
        view={req.consoleView!}
        f={f}
        groups={groups}
        items={items}
        orgs={v.caller.readableOrgs.sort()}
        canReplay={canReplay}
      />,
    );
  });

  async function load(req: FastifyRequest, v: Viewer): Promise<DeadLetterRow> {
    const { id } = req.params as { id: string };
    if (!UUID.test(id)) throw new ApiError(404, 'NOT_FOUND', `dead letter ${id.slice(0, 60)} not found`);
    const d = await getDeadLetter(ctx.db, v.caller.readableOrgs, id, ctx.config.controlApi.deadLetterBodyMaxBytes);
    if (!d || !d.organizationId) throw new ApiError(404, 'NOT_FOUND', `dead letter ${id} not found`);
    return d;
  }

  async function detail(
    req: FastifyRequest,
    reply: FastifyReply,
    v: Viewer,
    d: DeadLetterRow,
    problem?: string,
    status = 200,
  ): Promise<FastifyReply> {
    const org = d.organizationId!;
    const edit = d.modificationId ? await modificationOf(ctx.db, org, d.modificationId) : undefined;
    const attempts = d.modificationId ? await attemptsOf(ctx.db, org, d.modificationId) : [];
    let preview;
    if (edit) {
      const c = await readConflictContext(ctx.db, org, edit.pfaId, edit.baseVersion, edit.baseVersion);
      preview = previewReplay({
        delta: edit.delta,
        baseVersion: edit.baseVersion,
        baseRecord: c.base?.data ?? null,
        now: c.now,
      });
    }
    return html(
      reply,
      <DeadLetterPage
        view={req.consoleView!}
        d={d}
        edit={edit}
        attempts={attempts}
        preview={preview}
        can={canAct(v, org)}
        canDiscard={canDiscard(v, org)}
        problem={problem}
      />,
      status,
    );
  }

  scope.get('/dead-letters/:id', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    return detail(req, reply, v, await load(req, v));
  });

  const reasonOf = (req: FastifyRequest): string => {
    const r = (req.body as Record<string, unknown> | undefined)?.reason;
    return typeof r === 'string' ? r.trim().slice(0, 1000) : '';
  };

  scope.post('/dead-letters/:id/replay', route, async (req, reply) => {
    const v = req.consoleView!.viewer!;
    const d = await load(req, v);
    const reason = reasonOf(req);
    await actions.replayOne(v.caller, d.id, reason === '' ? undefined : reason);
    return reply.redirect(`/console/dead-letters/${d.id}`, 303);
  });

  scope.post('/dead-letters/:id/discard', route, async (req, reply) => {
    const v = req.consoleView!.viewer!;
    const d = await load(req, v);
    const reason = reasonOf(req);
    if (reason === '')
      return detail(req, reply, v, d, 'Discarding needs a reason: say why this edit will never be sent.', 400);
    await actions.discardOne(v.caller, d.id, reason);
    return reply.redirect(`/console/dead-letters/${d.id}`, 303);
  });

  scope.post('/dead-letters/replay', route, async (req, reply) => {
    const v = req.consoleView!.viewer!;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const raw = body.ids;
    const ids = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter(
      (x): x is string => typeof x === 'string',
    );
    if (ids.length === 0) throw new ApiError(400, 'NOTHING_SELECTED', 'choose at least one dead letter to replay');
    if (ids.length > 100) throw new ApiError(400, 'TOO_MANY', 'at most 100 dead letters are replayed at once');
    const reason = reasonOf(req);
    const results: Array<{ id: string; ok: boolean; message: string }> = [];
    for (const id of ids) {
      if (!UUID.test(id)) {
        results.push({ id: id.slice(0, 60), ok: false, message: 'refused: not a dead letter id' });
        continue;
      }
      try {
        const r = await actions.replayOne(v.caller, id, reason === '' ? undefined : reason);
        results.push({
          id,
          ok: true,
          message:
            r.via === 'modification'
              ? `replayed: edit ${r.modificationId} is committed again and goes to PEMS`
              : `replayed: the event is back on ${r.produced?.topic ?? 'the CDC topic'}`,
        });
      } catch (err) {
        const api = toApiError(err);
        if (!api) throw err;
        results.push({ id, ok: false, message: `refused (${api.statusCode}): ${api.message}` });
      }
    }
    return html(reply, <ReplayResultsPage view={req.consoleView!} results={results} />);
  });
}
