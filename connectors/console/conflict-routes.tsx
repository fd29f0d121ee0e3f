/**
 * The conflict screens' routes: the queue, one conflict, its preview and its resolution. The
 * resolution goes through resolveConflict — the same repository call as POST
 * /conflicts/:id/resolve — after the console checks that PEMS has not moved past the version
 * the person looked at (a move is refused and the new values are shown).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mergeRows, planResolution, type Choice, type Decision } from '../../streams/merge-plan';
import { ApiError } from '../control-api/errors';
import type { RouteContext } from '../control-api/route-context';
import { getConflict, listConflicts, resolveConflict, type ConflictRow } from '../postgres/conflicts';
import { readConflictContext } from '../postgres/console-conflicts';
import { ConflictPage } from './pages/conflict';
import { AGES, ConflictQueuePage, type QueueFilters } from './pages/conflicts';
import type { Viewer } from './session';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CHOICES: readonly string[] = ['mine', 'pems', 'custom'];

export interface PageDeps {
  route: { config: { public: true; console: true } };
  html(reply: FastifyReply, body: JSX.Element, status?: number): Promise<FastifyReply>;
  requireViewer(req: FastifyRequest, reply: FastifyReply): Viewer | undefined;
}

function text(q: Record<string, unknown>, k: string, max: number): string | undefined {
  const v = q[k];
  return typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, max) : undefined;
}

function decisionOf(body: Record<string, unknown>, c: ConflictRow): Decision {
  const d: Decision = { choices: {}, custom: {} };
  for (const f of c.fields) {
    const choice = body[`choice_${f.field}`];
    if (typeof choice === 'string' && CHOICES.includes(choice)) d.choices[f.field] = choice as Choice;
    const custom = body[`custom_${f.field}`];
    if (typeof custom === 'string') d.custom[f.field] = custom.slice(0, 2000);
  }
  return d;
}

export function registerConflictPages(scope: FastifyInstance, ctx: RouteContext, deps: PageDeps): void {
  const { route, html, requireViewer } = deps;

  scope.get('/conflicts', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const q = req.query as Record<string, unknown>;
    const status = text(q, 'status', 20) ?? 'open';
    if (!['open', 'resolved', 'superseded'].includes(status))
      throw new ApiError(400, 'BAD_FILTER', 'status must be open, resolved or superseded');
    const age = text(q, 'age', 8);
    if (age !== undefined && !(age in AGES))
      throw new ApiError(400, 'BAD_FILTER', `age must be one of ${Object.keys(AGES).join(', ')}`);
    const f: QueueFilters = {
      organization: text(q, 'organization', 64),
      pfa: text(q, 'pfa', 200),
      field: text(q, 'field', 64),
      author: text(q, 'author', 200),
      age,
      status,
    };
    const before = text(q, 'before', 80);
    let after: { t: string; id: string } | undefined;
    if (before) {
      const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)_([0-9a-f-]{36})$/.exec(before);
      if (!m) throw new ApiError(400, 'BAD_CURSOR', 'the page cursor (before) is not one this console made');
      after = { t: m[1]!, id: m[2]! };
    }
    const limit = 50;
    const items = await listConflicts(ctx.db, {
      organizationIds: v.caller.scope(f.organization),
      status,
      pfaId: f.pfa,
      field: f.field,
      userId: f.author,
      createdBefore: age ? new Date(Date.now() - AGES[age]!.seconds * 1000).toISOString() : undefined,
      limit,
      after,
    });
    const last = items[items.length - 1];
    let nextHref: string | undefined;
    if (items.length === limit && last) {
      const p = new URLSearchParams(Object.entries(f).filter((e): e is [string, string] => typeof e[1] === 'string'));
      p.set('before', `${last.createdAt}_${last.id}`);
      nextHref = `/console/conflicts?${p.toString()}`;
    }
    return html(
      reply,
      <ConflictQueuePage
        view={req.consoleView!}
        items={items}
        f={f}
        orgs={v.caller.readableOrgs.sort()}
        nextHref={nextHref}
      />,
    );
  });

  async function load(
    req: FastifyRequest,
    v: Viewer,
  ): Promise<{ c: ConflictRow; context: Awaited<ReturnType<typeof readConflictContext>> }> {
    const { id } = req.params as { id: string };
    if (!UUID.test(id)) throw new ApiError(404, 'NOT_FOUND', `conflict ${id.slice(0, 60)} not found`);
    const c = await getConflict(ctx.db, v.caller.readableOrgs, id);
    if (!c) throw new ApiError(404, 'NOT_FOUND', `conflict ${id} not found`);
    return { c, context: await readConflictContext(ctx.db, c.organizationId, c.pfaId, c.baseVersion, c.pemsVersion) };
  }

  function rowsOf(c: ConflictRow, context: Awaited<ReturnType<typeof readConflictContext>>) {
    return mergeRows({
      fields: c.fields,
      delta: c.modification.delta,
      baseRecord: context.base?.data ?? null,
      pemsRecord: context.atConflict?.data ?? null,
    });
  }

  const canResolve = (v: Viewer, c: ConflictRow): { allowed: boolean; reason?: string } =>
    v.caller.orgs.get(c.organizationId)?.sync === true
      ? { allowed: true }
      : { allowed: false, reason: `resolving needs perm_Sync in ${c.organizationId}; you can read this conflict only` };

  scope.get('/conflicts/:id', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const { c, context } = await load(req, v);
    return html(
      reply,
      <ConflictPage
        view={req.consoleView!}
        c={c}
        ctx={context}
        rows={rowsOf(c, context)}
        decision={{ choices: {}, custom: {} }}
        reason=""
        canResolve={canResolve(v, c)}
      />,
    );
  });

  const decide = async (req: FastifyRequest, reply: FastifyReply, commit: boolean): Promise<FastifyReply> => {
    const v = req.consoleView!.viewer!;
    const { c, context } = await load(req, v);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const decision = decisionOf(body, c);
    const reason = typeof body.reason === 'string' ? body.reason.slice(0, 1000) : '';
    const rows = rowsOf(c, context);
    const allowed = canResolve(v, c);
    const page = (status: number, problem?: string, plan?: ReturnType<typeof planResolution>) =>
      html(
        reply,
        <ConflictPage
          view={req.consoleView!}
          c={c}
          ctx={context}
          rows={rows}
          decision={decision}
          reason={reason}
          plan={plan}
          canResolve={allowed}
          problem={problem}
        />,
        status,
      );
    // The server is the enforcer: the disabled button is only a hint.
    v.caller.requireSync(c.organizationId);
    if (c.status !== 'open') return page(409, `This conflict is ${c.status}: there is nothing to resolve any more.`);
    if (String(body.pems_version ?? '') !== String(c.pemsVersion))
      return page(
        409,
        `This form was made against PEMS version ${String(body.pems_version ?? '?').slice(0, 12)}, but the conflict is about version ${c.pemsVersion}: look again and choose.`,
      );
    if (context.now && context.now.version > c.pemsVersion) {
      return page(
        409,
        `Refused: PEMS moved to version ${context.now.version} after version ${c.pemsVersion}, which your choices were made against. The new values are below.`,
      );
    }
    const pemsRecord = context.atConflict?.data ?? Object.fromEntries(c.fields.map((f) => [f.field, f.pems]));
    const plan = planResolution(rows, decision, pemsRecord, c.modification.delta);
    if (plan.resolution === null) return page(400, `Not yet: ${Object.values(plan.errors).join('; ')}.`, plan);
    if (!commit) return page(200, undefined, plan);
    await resolveConflict(ctx.db, {
      conflictId: c.id,
      organizationIds: [c.organizationId],
      resolverId: v.userId,
      resolution: plan.resolution,
      values: plan.values,
      reason: reason.trim() === '' ? undefined : reason.trim(),
    });
    return reply.redirect(`/console/conflicts/${c.id}`, 303);
  };

  scope.post('/conflicts/:id/preview', route, async (req, reply) => decide(req, reply, false));
  scope.post('/conflicts/:id/resolve', route, async (req, reply) => decide(req, reply, true));
}
