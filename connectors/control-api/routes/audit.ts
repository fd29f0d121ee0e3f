import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { AUDIT_COLUMNS, queryAudit, streamAudit, toAuditRow, verifyAuditChain, type AuditFilter } from '../../postgres/audit-query';
import { csvRow } from '../csv';
import { decodeCursor, encodeCursor, isIdKey } from '../pagination';
import { closed, CURSOR, DATE_TIME, EVENT_TYPE, LIMIT, ORG_ID, PFA_ID, USER_ID } from '../schemas';
import { callerOf, type RouteContext } from '../server';

const FILTERS = { organization: ORG_ID, pfaId: PFA_ID, actor: USER_ID, eventType: EVENT_TYPE, from: DATE_TIME, to: DATE_TIME };

interface FilterQuery {
  organization?: string;
  pfaId?: string;
  actor?: string;
  eventType?: string;
  from?: string;
  to?: string;
}

/** Rows per FETCH of an export; one batch is what an export holds in memory. */
const EXPORT_BATCH = 1000;

/**
 * The export's text, chunk by chunk: CSV (header row first) or NDJSON, oldest first. Pull-based:
 * the cursor is fetched only as fast as the consumer reads (Readable.from awaits it), and
 * stopping early (client gone) runs the generator's finally: cursor closed, connection returned.
 * Shared with the console's export, so both export exactly what the filter selects.
 */
export async function* auditExportChunks(db: Knex, filter: AuditFilter, format: 'csv' | 'ndjson'): AsyncGenerator<string> {
  const rows = streamAudit(db, filter, EXPORT_BATCH);
  // Rows are joined into ~64 KiB writes: one socket write per row would cost more than the rows.
  let out = format === 'csv' ? csvRow(AUDIT_COLUMNS) : '';
  for await (const raw of rows) {
    if (format === 'csv') {
      const r = toAuditRow(raw, false);
      out += csvRow([r.id, r.createdAt, r.organizationId, r.pfaId, r.modificationId, r.actor, r.eventType, r.detailsText, r.pemsResponseText, r.prevHash, r.hash]);
    } else {
      const { detailsText: _d, pemsResponseText: _p, ...row } = toAuditRow(raw, true);
      out += `${JSON.stringify(row)}\n`;
    }
    if (out.length >= 65536) {
      yield out;
      out = '';
    }
  }
  if (out !== '') yield out;
}

export function registerAuditRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const filterOf = (orgs: string[], q: FilterQuery): AuditFilter => ({
    organizationIds: orgs,
    pfaId: q.pfaId,
    actor: q.actor,
    eventType: q.eventType,
    from: q.from,
    to: q.to,
  });

  app.get(
    '/audit',
    {
      schema: {
        summary: 'audit entries by organization, PFA, actor, event type and time (from inclusive, to exclusive), keyset-paged',
        description: 'createdAt is exactly as hashed (UTC, microseconds); each entry carries prevHash and hash.',
        tags: ['audit'],
        rights: 'membership',
        querystring: closed({ ...FILTERS, order: { type: 'string', enum: ['asc', 'desc'], default: 'desc' }, limit: LIMIT, cursor: CURSOR }),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const q = req.query as FilterQuery & { order: 'asc' | 'desc'; limit: number; cursor?: string };
      const after = decodeCursor(q.cursor, isIdKey);
      const items = await queryAudit(ctx.db, filterOf(caller.scope(q.organization), q), { limit: q.limit, order: q.order, afterId: after?.id });
      const last = items[items.length - 1];
      return { items, nextCursor: items.length === q.limit && last ? encodeCursor({ id: last.id }) : null };
    },
  );

  app.get(
    '/audit/verify',
    {
      schema: {
        summary: "recompute the organization's hash chain and name the first broken entry",
        tags: ['audit'],
        rights: 'membership',
        querystring: closed({ organization: ORG_ID }, ['organization']),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { organization } = req.query as { organization: string };
      caller.scope(organization);
      return verifyAuditChain(ctx.db, organization);
    },
  );

  app.get(
    '/audit/export',
    {
      schema: {
        summary: 'export matching audit entries as CSV or NDJSON, oldest first, streamed from a database cursor',
        tags: ['audit'],
        rights: 'membership',
        produces: ['text/csv', 'application/x-ndjson'],
        querystring: closed({ ...FILTERS, format: { type: 'string', enum: ['csv', 'ndjson'], default: 'ndjson' } }),
      } as Record<string, unknown>,
    },
    async (req, reply) => {
      const caller = callerOf(req);
      const q = req.query as FilterQuery & { format: 'csv' | 'ndjson' };
      const filter = filterOf(caller.scope(q.organization), q);
      const stream = Readable.from(auditExportChunks(ctx.db, filter, q.format), { objectMode: false, highWaterMark: 64 * 1024 });
      stream.on('error', (err) => req.log.error({ err }, 'audit export failed mid-stream'));
      const ext = q.format === 'csv' ? 'csv' : 'ndjson';
      return reply
        .type(q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="audit-export.${ext}"`)
        .send(stream);
    },
  );
}
