/**
 * The audit screen's routes: the same queryAudit, auditExportChunks and verifyAuditChain as GET
 * /audit, /audit/export and /audit/verify.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../control-api/errors';
import { auditExportChunks, boundedAuditExport, verifyAnchoredChain } from '../control-api/routes/audit';
import type { RouteContext } from '../control-api/route-context';
import { queryAudit, verifyAuditChain, type AuditFilter } from '../postgres/audit-query';
import type { PageDeps } from './conflict-routes';
import { AuditPage, filterQuery, type AuditFilters } from './pages/audit';
import type { Viewer } from './session';

const DAY = /^\d{4}-\d\d-\d\d$/;

function filtersOf(req: FastifyRequest): AuditFilters {
  const q = req.query as Record<string, unknown>;
  const s = (k: string, max = 200): string | undefined =>
    typeof q[k] === 'string' && (q[k] as string).trim() !== '' ? (q[k] as string).trim().slice(0, max) : undefined;
  const f: AuditFilters = {
    organization: s('organization', 64),
    pfa: s('pfa'),
    actor: s('actor'),
    event: s('event', 100),
    from: s('from', 10),
    to: s('to', 10),
  };
  for (const k of ['from', 'to'] as const) {
    if (f[k] !== undefined && (!DAY.test(f[k]!) || Number.isNaN(Date.parse(`${f[k]}T00:00:00Z`))))
      throw new ApiError(400, 'BAD_FILTER', `${k} must be a day written YYYY-MM-DD`);
  }
  return f;
}

function auditFilter(v: Viewer, f: AuditFilters): AuditFilter {
  const next = (d: string): string => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString();
  return {
    organizationIds: v.caller.scope(f.organization),
    pfaId: f.pfa,
    actor: f.actor,
    eventType: f.event,
    from: f.from ? `${f.from}T00:00:00.000Z` : undefined,
    // The "to" day is included: the bound is the start of the next day (exclusive).
    to: f.to ? next(f.to) : undefined,
  };
}

export function registerAuditPages(scope: FastifyInstance, ctx: RouteContext, deps: PageDeps): void {
  const { route, html, requireViewer } = deps;
  const LIMIT = 50;

  async function page(req: FastifyRequest, v: Viewer, check?: Awaited<ReturnType<typeof verifyAuditChain>>) {
    const f = filtersOf(req);
    const before = (req.query as Record<string, unknown>).before;
    if (before !== undefined && (typeof before !== 'string' || !/^\d{1,19}$/.test(before)))
      throw new ApiError(400, 'BAD_CURSOR', 'the page cursor (before) is not one this console made');
    const items = await queryAudit(ctx.db, auditFilter(v, f), {
      limit: LIMIT,
      order: 'desc',
      afterId: before as string | undefined,
    });
    const last = items[items.length - 1];
    const nextHref =
      items.length === LIMIT && last ? `/console/audit?${filterQuery(f, { before: last.id })}` : undefined;
    return (
      <AuditPage
        view={req.consoleView!}
        f={f}
        items={items}
        orgs={v.caller.readableOrgs.sort()}
        nextHref={nextHref}
        check={check}
      />
    );
  }

  scope.get('/audit', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    return html(reply, await page(req, v));
  });

  scope.get('/audit/verify', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const f = filtersOf(req);
    if (!f.organization) throw new ApiError(400, 'BAD_FILTER', 'choose the organization whose chain to verify');
    v.caller.scope(f.organization);
    return html(reply, await page(req, v, await verifyAnchoredChain(ctx, f.organization)));
  });

  scope.get('/audit/export', route, async (req, reply) => {
    const v = requireViewer(req, reply);
    if (!v) return reply;
    const format = (req.query as Record<string, unknown>).format;
    if (format !== 'csv' && format !== 'ndjson') throw new ApiError(400, 'BAD_FORMAT', 'format must be csv or ndjson');
    const stream = boundedAuditExport(
      ctx,
      req,
      reply,
      v.userId,
      auditExportChunks(ctx.db, auditFilter(v, filtersOf(req)), format),
    );
    stream.on('error', (err) => req.log.error({ err }, 'console audit export failed mid-stream'));
    return reply
      .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
      .header('content-disposition', `attachment; filename="audit-export.${format}"`)
      .header('cache-control', 'no-store')
      .send(stream);
  });
}
