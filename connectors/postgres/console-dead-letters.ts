/**
 * The dead-letter screens' reads: counts by cause, and every PEMS attempt of a modification (the
 * sink's sync.write audit entries).
 */
import type { Knex } from 'knex';

export interface CauseGroup {
  errorCode: string;
  count: number;
  /** One reason of the group, to say what the code means here. */
  sampleReason: string;
}

export async function groupDeadLetters(
  db: Knex,
  organizationIds: readonly string[],
  status: string,
): Promise<CauseGroup[]> {
  if (organizationIds.length === 0) return [];
  const rows = (await db('dead_letter')
    .whereIn('organization_id', [...organizationIds])
    .where({ status })
    .groupBy('error_code')
    .orderBy([
      { column: 'n', order: 'desc' },
      { column: 'error_code', order: 'asc' },
    ])
    .select('error_code', db.raw('count(*)::int AS n'), db.raw('min(reason) AS sample'))) as Array<{
    error_code: string;
    n: number;
    sample: string;
  }>;
  return rows.map((r) => ({ errorCode: r.error_code, count: r.n, sampleReason: r.sample }));
}

export interface AttemptRow {
  at: Date;
  attempt: number | null;
  version: number | null;
  result: string | null;
  pemsResponse: unknown;
}

export async function attemptsOf(db: Knex, organizationId: string, modificationId: string): Promise<AttemptRow[]> {
  const rows = (await db('audit_log')
    .where({ organization_id: organizationId, modification_id: modificationId, event_type: 'sync.write' })
    .orderBy('id')
    .select('created_at', 'details', 'pems_response')) as Array<{
    created_at: Date;
    details: Record<string, any> | null;
    pems_response: unknown;
  }>;
  return rows.map((r) => ({
    at: new Date(r.details?.at ?? r.created_at),
    attempt: typeof r.details?.attempt === 'number' ? r.details.attempt : null,
    version: typeof r.details?.version === 'number' ? r.details.version : null,
    result: typeof r.details?.result === 'string' ? r.details.result : null,
    pemsResponse: r.pems_response,
  }));
}

/** The modification behind a dead letter (delta and base version), for the preview. */
export async function modificationOf(
  db: Knex,
  organizationId: string,
  id: string,
): Promise<
  | { pfaId: string; delta: Record<string, unknown>; baseVersion: number; userId: string; committedAt: Date | null }
  | undefined
> {
  const r = await db('pfa_modification')
    .where({ organization_id: organizationId, id })
    .first('pfa_id', 'delta', 'base_version', 'user_id', 'committed_at');
  return r
    ? {
        pfaId: r.pfa_id,
        delta: r.delta ?? {},
        baseVersion: Number(r.base_version),
        userId: r.user_id,
        committedAt: r.committed_at ? new Date(r.committed_at) : null,
      }
    : undefined;
}
