import type { FastifyInstance } from 'fastify';
import type { Caller } from '../auth';
import {
  discardDeadLetter,
  getDeadLetter,
  getDeadLetterSummary,
  listDeadLetters,
  replayDeadLetter,
  type Produce,
  type ReplayOutcome,
} from '../../postgres/dead-letters';
import { notFound, toApiError } from '../errors';
import { decodeCursor, isTimeIdKey, pageOf, timeIdOf, orNotFound } from '../pagination';
import { closed, CURSOR, LIMIT, ORG_ID, PFA_ID, REASON, UUID } from '../schemas';
import { callerOf, type RouteContext } from '../route-context';

export interface DeadLetterActions {
  /**
   * Replays one dead letter after checking the caller's right in its organization (404 / 403 / 409
   * as ApiError or ActionRefusedError).
   */
  replayOne(caller: Caller, id: string, reason?: string): Promise<ReplayOutcome>;
  discardOne(caller: Caller, id: string, reason: string): Promise<Awaited<ReturnType<typeof discardDeadLetter>>>;
}

/** Replay and discard as the API does them; the console's forms call the same functions. */
export function createDeadLetterActions(ctx: RouteContext): DeadLetterActions {
  const produce: Produce | undefined = (() => {
    if (!ctx.producer()) return undefined;
    return async (record) => {
      const p = await ctx.producer()!;
      const topic = ctx.config.topics.cdc;
      const [meta] = await p.send({
        topic,
        messages: [{ key: record.key, value: record.value, headers: record.headers }],
      });
      return { topic, partition: meta!.partition, offset: String(meta!.baseOffset ?? meta!.offset ?? '') };
    };
  })();

  async function replayOne(caller: Caller, id: string, reason?: string): Promise<ReplayOutcome> {
    const dl = await getDeadLetterSummary(ctx.db, caller.readableOrgs, id);
    if (!dl || !dl.organizationId) throw notFound(`dead letter ${id}`);
    caller.requireSync(dl.organizationId);
    return replayDeadLetter(ctx.db, {
      id,
      organizationIds: [dl.organizationId],
      actor: caller.userId,
      reason,
      produce,
    });
  }

  async function discardOne(caller: Caller, id: string, reason: string) {
    const dl = await getDeadLetterSummary(ctx.db, caller.readableOrgs, id);
    if (!dl || !dl.organizationId) throw notFound(`dead letter ${id}`);
    // Discarding drops work for good: an administrator's decision, not any syncer's.
    caller.requireAdmin(dl.organizationId);
    return discardDeadLetter(ctx.db, { id, organizationIds: [dl.organizationId], actor: caller.userId, reason });
  }
  return { replayOne, discardOne };
}

export function registerDeadLetterRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { replayOne, discardOne } = createDeadLetterActions(ctx);

  app.get(
    '/dead-letters',
    {
      schema: {
        summary: 'dead letters with their reason, error and the sizes of the original record, newest first',
        description:
          'Lists carry metadata and sizes only; the record itself comes from GET /dead-letters/{id}, capped.',
        tags: ['dead letters'],
        rights: 'membership',
        querystring: closed({
          organization: ORG_ID,
          status: { type: 'string', enum: ['open', 'replayed', 'discarded'] },
          pfaId: PFA_ID,
          errorCode: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,100}$' },
          limit: LIMIT,
          cursor: CURSOR,
        }),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const q = req.query as {
        organization?: string;
        status?: string;
        pfaId?: string;
        errorCode?: string;
        limit: number;
        cursor?: string;
      };
      const items = await listDeadLetters(ctx.db, {
        organizationIds: caller.scope(q.organization),
        status: q.status,
        pfaId: q.pfaId,
        errorCode: q.errorCode,
        limit: q.limit,
        after: decodeCursor(q.cursor, isTimeIdKey),
      });
      return pageOf(items, q.limit, timeIdOf);
    },
  );

  app.get(
    '/dead-letters/:id',
    {
      schema: {
        summary: 'one dead letter with its original key, value and headers',
        description:
          'Key and value each up to controlApi.deadLetterBodyMaxBytes (default 64 KiB): as text when valid UTF-8, otherwise base64; ' +
          'recordKeyTruncated / recordValueTruncated say when only the first bytes are shown, recordKeyBytes / recordValueBytes give the full sizes.',
        tags: ['dead letters'],
        rights: 'membership',
        params: closed({ id: UUID }, ['id']),
      },
    } as Record<string, unknown>,
    async (req) => {
      const caller = callerOf(req);
      const { id } = req.params as { id: string };
      const dl = orNotFound(
        await getDeadLetter(ctx.db, caller.readableOrgs, id, ctx.config.controlApi.deadLetterBodyMaxBytes),
        `dead letter ${id}`,
      );
      return dl;
    },
  );

  app.post(
    '/dead-letters/:id/replay',
    {
      schema: {
        summary: 'replay one dead letter',
        description:
          'With a modification: the modification (failed or rejected) is committed again, same id, so the PEMS idempotency key is kept. ' +
          'Without (a poison event): the original key, value and headers are produced again to the CDC topic.',
        tags: ['dead letters'],
        rights: "perm_Sync in the dead letter's organization",
        params: closed({ id: UUID }, ['id']),
        body: closed({ reason: REASON }),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const { id } = req.params as { id: string };
      return replayOne(caller, id, (req.body as { reason?: string } | undefined)?.reason);
    },
  );

  app.post(
    '/dead-letters/replay',
    {
      schema: {
        summary: 'replay many dead letters; each stands alone and has its own result',
        tags: ['dead letters'],
        rights: "perm_Sync in each dead letter's organization",
        body: closed(
          { ids: { type: 'array', minItems: 1, maxItems: 100, uniqueItems: true, items: UUID }, reason: REASON },
          ['ids'],
        ),
      } as Record<string, unknown>,
    },
    async (req) => {
      const caller = callerOf(req);
      const body = req.body as { ids: string[]; reason?: string };
      const results: Array<Record<string, unknown>> = [];
      for (const id of body.ids) {
        try {
          results.push({ status: 'replayed', ...(await replayOne(caller, id, body.reason)) });
        } catch (err) {
          const api = toApiError(err);
          if (!api) throw err;
          results.push({ id, status: 'refused', httpStatus: api.statusCode, ...api.body() });
        }
      }
      return { results };
    },
  );

  app.post(
    '/dead-letters/:id/discard',
    {
      schema: {
        summary: 'discard a dead letter, with a reason',
        tags: ['dead letters'],
        rights: "admin in the dead letter's organization",
        params: closed({ id: UUID }, ['id']),
        body: closed({ reason: REASON }, ['reason']),
      } as Record<string, unknown>,
    },
    async (req) => {
      const { id } = req.params as { id: string };
      return discardOne(callerOf(req), id, (req.body as { reason: string }).reason);
    },
  );
}
