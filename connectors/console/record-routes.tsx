/**
 * A record's timeline and the rollback screens. Requests, approvals and rejections go through
 * the same repository calls as the API's /organizations/:org/pfas/:pfa/rollbacks and
 * /rollbacks/:id/approve|reject, with the same rights (approveRollback itself refuses the
 * requester: four eyes).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../control-api/errors';
import type { RouteContext } from '../control-api/route-context';
import { ActionRefusedError } from '../postgres/conflicts';
import { readTimeline, TIMELINE_KINDS, type TimelineKind } from '../postgres/console-timeline';
import {
  approveRollback,
  getRollbackRequest,
  listRollbackRequests,
  rejectRollback,
  requestRollback,
  rollbackPreview,
  type RollbackRequestRow,
} from '../postgres/rollbacks';
import type { PageDeps } from './conflict-routes';
import { RollbackDecisionPage, RollbackListPage, RollbackRequestPage } from './pages/rollback';
import { TimelinePage } from './pages/timeline';
import type { Viewer } from './session';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerRecordPages(scope: FastifyInstance, ctx: RouteContext, deps: PageDeps): void {
  const { route, html, requireViewer } = deps;
  const params = (req: FastifyRequest): { org: string; pfa: string } => req.params as { org: string; pfa: string };
  const reasonOf = (req: FastifyRequest): string => {
    const r = (req.body as Record<string, unknown> | undefined)?.reason;
    return typeof r === 'string' ? r.trim().slice(0, 1000) : '';
  };
  const canRequest = (v: Viewer, org: string) =>
    v.caller.orgs.get(org)?.sync === true
      ? { allowed: true }
      : { allowed: false, reason: `requesting a rollback needs perm_Sync in ${org}` };

  scope.get('/records/:org/:pfa', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const { org, pfa } = params(req);
    v.caller.requireRead(org, `PFA ${pfa}`);
    const raw = (req.query as Record<string, unknown>).kind;
    const asked = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter(
      (k): k is TimelineKind => typeof k === 'string' && (TIMELINE_KINDS as readonly string[]).includes(k),
    );
    const kinds = asked.length > 0 ? asked : [...TIMELINE_KINDS];
    const items = (await readTimeline(ctx.db, org, pfa)).filter((i) => kinds.includes(i.kind));
    const host = req.headers.host ?? 'localhost';
    const permalink = `${req.protocol}://${host}${req.url}`;
    return html(
      reply,
      <TimelinePage view={req.consoleView!} org={org} pfa={pfa} items={items} kinds={kinds} permalink={permalink} />,
    );
  });

  const versionOf = (x: unknown): number => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 0 || n > 2147483647)
      throw new ApiError(400, 'BAD_VERSION', 'version must be a whole PEMS version number');
    return n;
  };

  scope.get('/records/:org/:pfa/rollback', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const { org, pfa } = params(req);
    v.caller.requireRead(org, `PFA ${pfa}`);
    const preview = await rollbackPreview(ctx.db, org, pfa, versionOf((req.query as Record<string, unknown>).version));
    return html(reply, <RollbackRequestPage view={req.consoleView!} preview={preview} can={canRequest(v, org)} />);
  });

  scope.post('/records/:org/:pfa/rollback', route, async (req, reply) => {
    const v = req.consoleView!.viewer!;
    const { org, pfa } = params(req);
    v.caller.requireRead(org, `PFA ${pfa}`);
    v.caller.requireSync(org);
    const version = versionOf((req.body as Record<string, unknown>)?.version);
    const reason = reasonOf(req);
    if (reason === '') {
      const preview = await rollbackPreview(ctx.db, org, pfa, version);
      return html(
        reply,
        <RollbackRequestPage
          view={req.consoleView!}
          preview={preview}
          can={canRequest(v, org)}
          problem="A rollback needs a reason: the approving administrator reads it."
        />,
        400,
      );
    }
    const created = await requestRollback(ctx.db, {
      organizationId: org,
      pfaId: pfa,
      targetVersion: version,
      reason,
      requestedBy: v.userId,
    });
    return reply.redirect(`/console/rollbacks/${created.id}`, 303);
  });

  scope.get('/rollbacks', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const raw = (req.query as Record<string, unknown>).status;
    const status = typeof raw === 'string' && raw !== '' ? raw : 'pending';
    if (!['pending', 'approved', 'rejected', 'applied', 'failed'].includes(status))
      throw new ApiError(400, 'BAD_FILTER', 'status must be pending, approved, rejected, applied or failed');
    const items = await listRollbackRequests(ctx.db, { organizationIds: v.caller.readableOrgs, status, limit: 100 });
    return html(reply, <RollbackListPage view={req.consoleView!} items={items} status={status} />);
  });

  async function load(req: FastifyRequest, v: Viewer): Promise<RollbackRequestRow> {
    const { id } = req.params as { id: string };
    if (!UUID.test(id)) throw new ApiError(404, 'NOT_FOUND', `rollback request ${id.slice(0, 60)} not found`);
    const r = await getRollbackRequest(ctx.db, v.caller.readableOrgs, id);
    if (!r) throw new ApiError(404, 'NOT_FOUND', `rollback request ${id} not found`);
    return r;
  }

  const rights = (v: Viewer, r: RollbackRequestRow) => {
    const admin = v.caller.orgs.get(r.organizationId)?.admin === true;
    const approve =
      r.requestedBy === v.userId
        ? {
            allowed: false,
            reason: 'you requested this rollback: four eyes — a different administrator must approve it',
          }
        : admin
          ? { allowed: true }
          : { allowed: false, reason: `approving needs an administrator of ${r.organizationId}` };
    const reject =
      admin || r.requestedBy === v.userId
        ? { allowed: true }
        : { allowed: false, reason: `rejecting needs an administrator of ${r.organizationId} (or the requester)` };
    return { approve, reject };
  };

  const decisionPage = async (req: FastifyRequest, v: Viewer, r: RollbackRequestRow, problem?: string) => {
    const { approve, reject } = rights(v, r);
    return <RollbackDecisionPage view={req.consoleView!} r={r} approve={approve} reject={reject} problem={problem} />;
  };

  scope.get('/rollbacks/:id', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    return html(reply, await decisionPage(req, v, await load(req, v)));
  });

  scope.post('/rollbacks/:id/approve', route, async (req, reply) => {
    const v = req.consoleView!.viewer!;
    const r = await load(req, v);
    v.caller.requireAdmin(r.organizationId);
    const reason = reasonOf(req);
    const seen = (req.body as Record<string, unknown> | undefined)?.previewHash;
    try {
      await approveRollback(ctx.db, {
        id: r.id,
        organizationIds: [r.organizationId],
        approverId: v.userId,
        previewHash: typeof seen === 'string' ? seen : '',
        reason: reason === '' ? undefined : reason,
      });
    } catch (err) {
      // PREVIEW_MISMATCH / ROLLBACK_STALE: nothing was written; say why on the page the approver is on.
      if (err instanceof ActionRefusedError)
        return html(
          reply,
          await decisionPage(req, v, await load(req, v), err.message),
          err.kind === 'forbidden' ? 403 : 409,
        );
      throw err;
    }
    return reply.redirect(`/console/rollbacks/${r.id}`, 303);
  });

  scope.post('/rollbacks/:id/reject', route, async (req, reply) => {
    const v = req.consoleView!.viewer!;
    const r = await load(req, v);
    if (r.requestedBy !== v.userId && v.caller.orgs.get(r.organizationId)?.admin !== true) {
      throw new ApiError(
        403,
        'FORBIDDEN',
        `rejecting needs an administrator of ${r.organizationId} (or the requester)`,
      );
    }
    const reason = reasonOf(req);
    if (reason === '') return html(reply, await decisionPage(req, v, r, 'Rejecting needs a reason.'), 400);
    await rejectRollback(ctx.db, { id: r.id, organizationIds: [r.organizationId], deciderId: v.userId, reason });
    return reply.redirect(`/console/rollbacks/${r.id}`, 303);
  });
}
