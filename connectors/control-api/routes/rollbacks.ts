import type { FastifyInstance } from 'fastify';
import {
  approveRollback,
  getRollbackRequest,
  listRollbackRequests,
  pfaHistory,
  rejectRollback,
  requestRollback,
  rollbackPreview,
} from '../../postgres/rollbacks';
import { forbidden, notFound } from '../errors';
import { decodeCursor, isTimeIdKey, pageOf, timeIdOf, orNotFound } from '../pagination';
import { closed, CURSOR, LIMIT, ORG_ID, PFA_ID, REASON, UUID } from '../schemas';
import { callerOf, type RouteContext } from '../route-context';

const PFA_PARAMS = closed({ organizationId: ORG_ID, pfaId: PFA_ID }, ['organizationId', 'pfaId']);
const VERSION = { type: 'integer', minimum: 0, maximum: 2147483647 } as const;

export function registerRollbackRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get(
    '/organizations/:organizationId/pfas/:pfaId/history',
    {
      schema: {
        summary: 'every PEMS version of a PFA seen by the mirror: who and when, newest first',
        tags: ['rollbacks'],
        rights: 'membership',
        params: PFA_PARAMS,
        querystring: closed({ limit: LIMIT, beforeVersion: VERSION }),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { organizationId, pfaId } = req.params as { organizationId: string; pfaId: string };
      const q = req.query as { limit: number; beforeVersion?: number };
      caller.requireRead(organizationId, `PFA ${pfaId}`);
      const items = await pfaHistory(ctx.db, organizationId, pfaId, q);
      if (items.length === 0 && q.beforeVersion === undefined) throw notFound(`PFA ${pfaId}`);
      const last = items[items.length - 1];
      return { items, nextBeforeVersion: items.length === q.limit && last ? last.version : null };
    },
  );

  app.get(
    '/organizations/:organizationId/pfas/:pfaId/rollback-preview',
    {
      schema: {
        summary: 'the field diff of rolling back to `version`: before = PEMS now, after = the value at that version',
        tags: ['rollbacks'],
        rights: 'membership',
        params: PFA_PARAMS,
        querystring: closed({ version: VERSION }, ['version']),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { organizationId, pfaId } = req.params as { organizationId: string; pfaId: string };
      caller.requireRead(organizationId, `PFA ${pfaId}`);
      return rollbackPreview(ctx.db, organizationId, pfaId, (req.query as { version: number }).version);
    },
  );

  app.post(
    '/organizations/:organizationId/pfas/:pfaId/rollbacks',
    {
      schema: {
        summary: 'request a rollback to `targetVersion`; waits for approval by a different administrator',
        tags: ['rollbacks'],
        rights: 'perm_Sync in the organization',
        params: PFA_PARAMS,
        body: closed({ targetVersion: VERSION, reason: REASON }, ['targetVersion', 'reason']),
      } as Record<string, unknown>,
    },
    async (req, reply) => {
      const caller = callerOf(req);
      const { organizationId, pfaId } = req.params as { organizationId: string; pfaId: string };
      const body = req.body as { targetVersion: number; reason: string };
      caller.requireRead(organizationId, `PFA ${pfaId}`);
      caller.requireSync(organizationId);
      const created = await requestRollback(ctx.db, {
        organizationId,
        pfaId,
        targetVersion: body.targetVersion,
        reason: body.reason,
        requestedBy: caller.userId,
      });
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/rollbacks',
    {
      schema: {
        summary: 'rollback requests, newest first',
        tags: ['rollbacks'],
        rights: 'membership',
        querystring: closed({
          organization: ORG_ID,
          status: { type: 'string', enum: ['pending', 'approved', 'rejected', 'applied', 'failed'] },
          pfaId: PFA_ID,
          limit: LIMIT,
          cursor: CURSOR,
        }),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const q = req.query as { organization?: string; status?: string; pfaId?: string; limit: number; cursor?: string };
      const items = await listRollbackRequests(ctx.db, {
        organizationIds: caller.scope(q.organization),
        status: q.status,
        pfaId: q.pfaId,
        limit: q.limit,
        after: decodeCursor(q.cursor, isTimeIdKey),
      });
      return pageOf(items, q.limit, timeIdOf);
    },
  );

  app.get(
    '/rollbacks/:id',
    {
      schema: {
        summary: 'one rollback request',
        tags: ['rollbacks'],
        rights: 'membership',
        params: closed({ id: UUID }, ['id']),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { id } = req.params as { id: string };
      const r = orNotFound(await getRollbackRequest(ctx.db, caller.readableOrgs, id), `rollback request ${id}`);
      return r;
    },
  );

  app.post(
    '/rollbacks/:id/approve',
    {
      schema: {
        summary: 'approve a pending rollback: creates the committed modification (origin rollback)',
        description:
          "The body carries the request's previewHash (GET /rollbacks/{id}): the approval is of exactly that diff on that version. " +
          'A hash of something else is 409 PREVIEW_MISMATCH; if PEMS moved since the request, 409 ROLLBACK_STALE and nothing is written (request again). ' +
          'The requester can never approve (four-eyes, 403 FOUR_EYES_REQUIRED).',
        tags: ['rollbacks'],
        rights: 'administrator of the organization, not the requester',
        params: closed({ id: UUID }, ['id']),
        body: closed(
          {
            previewHash: {
              type: 'string',
              pattern: '^[0-9a-f]{64}$',
              description: "the request's previewHash, as shown to the approver",
            },
            reason: REASON,
          },
          ['previewHash'],
        ),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { id } = req.params as { id: string };
      const body = req.body as { previewHash: string; reason?: string };
      const r = orNotFound(await getRollbackRequest(ctx.db, caller.readableOrgs, id), `rollback request ${id}`);
      caller.requireAdmin(r.organizationId);
      return approveRollback(ctx.db, {
        id,
        organizationIds: [r.organizationId],
        approverId: caller.userId,
        previewHash: body.previewHash,
        reason: body.reason,
      });
    },
  );

  app.post(
    '/rollbacks/:id/reject',
    {
      schema: {
        summary: 'reject a pending rollback, with a reason',
        tags: ['rollbacks'],
        rights: 'administrator of the organization, or the requester (withdrawal)',
        params: closed({ id: UUID }, ['id']),
        body: closed({ reason: REASON }, ['reason']),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { id } = req.params as { id: string };
      const body = req.body as { reason: string };
      const r = orNotFound(await getRollbackRequest(ctx.db, caller.readableOrgs, id), `rollback request ${id}`);
      if (r.requestedBy !== caller.userId && caller.orgs.get(r.organizationId)?.admin !== true) {
        throw forbidden(`rejecting needs an administrator of ${r.organizationId} (or the requester)`, {
          organizationId: r.organizationId,
          right: 'is_admin',
        });
      }
      return rejectRollback(ctx.db, {
        id,
        organizationIds: [r.organizationId],
        deciderId: caller.userId,
        reason: body.reason,
      });
    },
  );
}
