import type { FastifyInstance } from 'fastify';
import { getConflict, listConflicts, resolveConflict } from '../../postgres/conflicts';
import { decodeCursor, isTimeIdKey, pageOf, timeIdOf, orNotFound } from '../pagination';
import { closed, CURSOR, DATE_TIME, LIMIT, ORG_ID, PFA_ID, REASON, USER_ID, UUID } from '../schemas';
import { callerOf, type RouteContext } from '../route-context';

interface ListQuery {
  organization?: string;
  status?: string;
  pfaId?: string;
  userId?: string;
  since?: string;
  until?: string;
  limit: number;
  cursor?: string;
}

export function registerConflictRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get(
    '/conflicts',
    {
      schema: {
        summary: 'conflicts, newest first',
        description:
          'Filter by organization, status, PFA, the author of the conflicting edit (userId) and age (since/until on created_at).',
        tags: ['conflicts'],
        rights: 'membership',
        querystring: closed({
          organization: ORG_ID,
          status: { type: 'string', enum: ['open', 'resolved', 'superseded'] },
          pfaId: PFA_ID,
          userId: USER_ID,
          since: DATE_TIME,
          until: DATE_TIME,
          limit: LIMIT,
          cursor: CURSOR,
        }),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const q = req.query as ListQuery;
      const items = await listConflicts(ctx.db, {
        organizationIds: caller.scope(q.organization),
        status: q.status,
        pfaId: q.pfaId,
        userId: q.userId,
        createdAfter: q.since,
        createdBefore: q.until,
        limit: q.limit,
        after: decodeCursor(q.cursor, isTimeIdKey),
      });
      return pageOf(items, q.limit, timeIdOf);
    },
  );

  app.get(
    '/conflicts/:id',
    {
      schema: {
        summary: 'one conflict: per field base, local and PEMS values; the fields that auto-merge',
        tags: ['conflicts'],
        rights: 'membership',
        params: closed({ id: UUID }, ['id']),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { id } = req.params as { id: string };
      const conflict = orNotFound(await getConflict(ctx.db, caller.readableOrgs, id), `conflict ${id}`);
      return conflict;
    },
  );

  app.post(
    '/conflicts/:id/resolve',
    {
      schema: {
        summary: 'resolve a conflict: use_local, use_pems or merge',
        description:
          'Creates a new committed modification (origin conflict_resolution) based on the PEMS version of the conflict, so it flows ' +
          'through CDC and the sink; the old modification becomes superseded. use_pems with nothing left to write creates none. ' +
          'merge needs `values` with exactly the conflicting fields.',
        tags: ['conflicts'],
        rights: "perm_Sync in the conflict's organization",
        params: closed({ id: UUID }, ['id']),
        body: closed(
          {
            resolution: { type: 'string', enum: ['use_local', 'use_pems', 'merge'] },
            values: {
              type: 'object',
              maxProperties: 64,
              description: 'merge only: a value for every conflicting field',
            },
            reason: REASON,
          },
          ['resolution'],
        ),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { id } = req.params as { id: string };
      const body = req.body as {
        resolution: 'use_local' | 'use_pems' | 'merge';
        values?: Record<string, unknown>;
        reason?: string;
      };
      const conflict = orNotFound(await getConflict(ctx.db, caller.readableOrgs, id), `conflict ${id}`);
      caller.requireSync(conflict.organizationId);
      return resolveConflict(ctx.db, {
        conflictId: id,
        organizationIds: [conflict.organizationId],
        resolverId: caller.userId,
        resolution: body.resolution,
        values: body.values,
        reason: body.reason,
      });
    },
  );
}
