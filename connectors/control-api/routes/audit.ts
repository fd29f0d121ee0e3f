import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { auditKeyRing } from '../../postgres/audit';
import {
  AUDIT_COLUMNS,
  checkpointHolds,
  queryAudit,
  streamAudit,
  toAuditRow,
  verifyAuditChain,
  type AuditFilter,
} from '../../postgres/audit-query';
import { latestCheckpoint } from '../audit-checkpoints';
import { csvRow } from '../csv';
import { decodeCursor, isIdKey, pageOf, idOf } from '../pagination';
import { closed, CURSOR, DATE_TIME, EVENT_TYPE, LIMIT, ORG_ID, PFA_ID, USER_ID } from '../schemas';
import { callerOf, type RouteContext } from '../route-context';

const FILTERS = {
  organization: ORG_ID,
  pfaId: PFA_ID,
  actor: USER_ID,
  eventType: EVENT_TYPE,
  from: DATE_TIME,
  to: DATE_TIME,
};

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
export async function* auditExportChunks(
  db: Knex,
  filter: AuditFilter,
  format: 'csv' | 'ndjson',
): AsyncGenerator<string> {
  const rows = streamAudit(db, filter, EXPORT_BATCH);
  // Rows are joined into ~64 KiB writes: one socket write per row would cost more than the rows.
  let out = format === 'csv' ? csvRow(AUDIT_COLUMNS) : '';
  for await (const raw of rows) {
    if (format === 'csv') {
      const r = toAuditRow(raw, false);
      out += csvRow([
        r.id,
        r.createdAt,
        r.organizationId,
        r.pfaId,
        r.modificationId,
        r.actor,
        r.eventType,
        r.detailsText,
        r.pemsResponseText,
        r.prevHash,
        r.hash,
      ]);
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

/**
 * An audit export as a stream under the export bounds (ExportSlots): a slot for the caller or
 * 429 EXPORT_BUSY with Retry-After, released when the stream or the connection closes; cut off
 * when its reader takes nothing for controlApi.exportIdleTimeoutMs. The API's route and the
 * console's export both stream through here, so neither can hold the pool.
 */
export function boundedAuditExport(
  ctx: RouteContext,
  req: FastifyRequest,
  reply: FastifyReply,
  callerId: string,
  chunks: AsyncGenerator<string>,
): Readable {
  let release: () => void;
  try {
    release = ctx.exports.acquire(callerId);
  } catch (err) {
    void chunks.return(undefined);
    reply.header('retry-after', String(Math.ceil(ctx.config.controlApi.exportIdleTimeoutMs / 1000)));
    throw err;
  }
  // Pull-based: the cursor is fetched only as fast as the client reads (Readable.from awaits
  // the consumer), and stopping early (client gone) runs the generator's finally: cursor
  // closed, connection returned.
  const stream = Readable.from(chunks, { objectMode: false, highWaterMark: 64 * 1024 });
  // Idle: nothing taken from the stream for exportIdleTimeoutMs (a reader that stopped
  // reading, or reads slower than that per 64 KiB). Destroying the stream returns the
  // generator, whose finally closes the cursor and gives the connection back.
  const idleMs = ctx.config.controlApi.exportIdleTimeoutMs;
  let idle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      req.log.warn({ idleMs }, 'audit export aborted: its reader took nothing for the idle timeout');
      stream.destroy();
      reply.raw.destroy();
    }, idleMs);
  };
  const origRead = stream._read.bind(stream);
  stream._read = (size: number) => {
    arm();
    origRead(size);
  };
  arm();
  stream.once('close', () => {
    clearTimeout(idle);
    release();
  });
  reply.raw.once('close', () => {
    clearTimeout(idle);
    if (!stream.destroyed) stream.destroy();
    release();
  });
  return stream;
}

/**
 * The chain recomputed (verifyAuditChain) and held against the newest signed checkpoint of its
 * head outside Postgres: a chain cut back to an earlier head verifies on its own, not against the
 * checkpoint. GET /audit/verify and the console's "verify chain" give this same verdict.
 */
export async function verifyAnchoredChain(ctx: RouteContext, organization: string) {
  const verdict = await verifyAuditChain(ctx.db, organization);
  const ring = auditKeyRing();
  if (!ring || !ctx.kafka) return verdict;
  const cp = await latestCheckpoint(ctx.kafka, ctx.config.audit.checkpointTopic, ring, organization);
  if (!cp) return { ...verdict, checkpoint: null };
  const holds = await checkpointHolds(ctx.db, organization, cp.lastId, cp.lastMac);
  return { ...verdict, ok: verdict.ok && holds, checkpoint: { lastId: cp.lastId, at: cp.at, holds } };
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
        summary:
          'audit entries by organization, PFA, actor, event type and time (from inclusive, to exclusive), keyset-paged',
        description: 'createdAt is exactly as hashed (UTC, microseconds); each entry carries prevHash and hash.',
        tags: ['audit'],
        rights: 'membership',
        querystring: closed({
          ...FILTERS,
          order: { type: 'string', enum: ['asc', 'desc'], default: 'desc' },
          limit: LIMIT,
          cursor: CURSOR,
        }),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const q = req.query as FilterQuery & { order: 'asc' | 'desc'; limit: number; cursor?: string };
      const after = decodeCursor(q.cursor, isIdKey);
      const items = await queryAudit(ctx.db, filterOf(caller.scope(q.organization), q), {
        limit: q.limit,
        order: q.order,
        afterId: after?.id,
      });
      return pageOf(items, q.limit, idOf);
    },
  );

  app.get(
    '/audit/verify',
    {
      schema: {
        summary: "recompute the organization's hash chain and name the first broken entry",
        description:
          'With audit.keys set, the keyed chain (HMAC) is recomputed too, and compared with the newest signed checkpoint of the chain head on audit.checkpointTopic ' +
          '(checkpoint.holds: false when the checkpointed entry is gone or changed).',
        tags: ['audit'],
        rights: 'membership',
        querystring: closed({ organization: ORG_ID }, ['organization']),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { organization } = req.query as { organization: string };
      caller.scope(organization);
      return verifyAnchoredChain(ctx, organization);
    },
  );

  app.get(
    '/audit/export',
    {
      schema: {
        summary: 'export matching audit entries as CSV or NDJSON, oldest first, streamed from a database cursor',
        description:
          'At most controlApi.exportMaxPerCaller exports per user and controlApi.exportMaxConcurrent in all run at once (429 EXPORT_BUSY beyond, with Retry-After); ' +
          'an export whose reader takes nothing for controlApi.exportIdleTimeoutMs is aborted.',
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
      const stream = boundedAuditExport(ctx, req, reply, caller.userId, auditExportChunks(ctx.db, filter, q.format));
      stream.on('error', (err) => req.log.error({ err }, 'audit export failed mid-stream'));
      const ext = q.format === 'csv' ? 'csv' : 'ndjson';
      return reply
        .type(q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="audit-export.${ext}"`)
        .send(stream);
    },
  );
}
