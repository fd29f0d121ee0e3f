/**
 * What the console's conflict detail shows beside the conflict row: PEMS's record at the base and
 * conflict versions, and PEMS now (the mirror).
 */
import type { Knex } from 'knex';

export interface PemsVersionSeen {
  version: number;
  data: Record<string, unknown>;
  changedBy: string | null;
  pemsUpdatedAt: Date | null;
}

export interface ConflictContext {
  base: PemsVersionSeen | null;
  atConflict: PemsVersionSeen | null;
  /** The newest PEMS version this database has seen (read side or sink). */
  now: PemsVersionSeen | null;
}

function seen(r: Record<string, any> | undefined, changedByKey = 'changed_by'): PemsVersionSeen | null {
  if (!r) return null;
  return {
    version: Number(r.version),
    data: r.data ?? {},
    changedBy: r[changedByKey] ?? (r.data?.updatedBy as string | undefined) ?? null,
    pemsUpdatedAt: r.pems_updated_at ? new Date(r.pems_updated_at) : null,
  };
}

export async function readConflictContext(
  db: Knex,
  organizationId: string,
  pfaId: string,
  baseVersion: number,
  pemsVersion: number,
): Promise<ConflictContext> {
  const [hist, mirror] = await Promise.all([
    db('pfa_mirror_history')
      .where({ organization_id: organizationId, pfa_id: pfaId })
      .whereIn('version', [baseVersion, pemsVersion])
      .orderBy('id', 'desc')
      .select('version', 'data', 'changed_by', 'pems_updated_at'),
    db('pfa_mirror')
      .where({ organization_id: organizationId, pfa_id: pfaId })
      .first('version', 'data', 'pems_updated_at'),
  ]);
  const at = (v: number) => seen((hist as Array<Record<string, any>>).find((h) => Number(h.version) === v));
  return { base: at(baseVersion), atConflict: at(pemsVersion), now: seen(mirror, 'none') };
}
