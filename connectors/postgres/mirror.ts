import type { Knex } from 'knex';
import { decideUpsert, type UpsertDecision } from '../../streams/mirror';
import type { PfaRecord } from '../../streams/pfa-record';

export type MirrorOrigin = 'pems' | 'sync' | 'seed';

export interface MirrorRow {
  organizationId: string;
  pfaId: string;
  version: number;
  data: PfaRecord;
  lastSyncedAt: Date;
}

/**
 * Records one PEMS version of a record: the history gets a row for every version ever seen
 * (idempotent on organization + PFA + version), and the mirror moves forward only when the
 * version is newer than what it holds. Atomic upserts, so the sink and the read side can race
 * on the same record and the mirror still ends at the highest version.
 */
export async function applyMirrorVersion(
  db: Knex | Knex.Transaction,
  input: MirrorVersionInput,
): Promise<UpsertDecision> {
  const [decision] = await applyMirrorVersions(db, [input]);
  return decision!;
}

export async function getMirror(
  db: Knex | Knex.Transaction,
  organizationId: string,
  pfaId: string,
): Promise<MirrorRow | null> {
  const row = await db('pfa_mirror').where({ organization_id: organizationId, pfa_id: pfaId }).first();
  if (!row) return null;
  return {
    organizationId: row.organization_id,
    pfaId: row.pfa_id,
    version: Number(row.version),
    data: row.data as PfaRecord,
    lastSyncedAt: row.last_synced_at,
  };
}

/**
 * The mirror row of a record, locked FOR UPDATE until the transaction ends (so the version a
 * caller compares with is the one it replaces), or undefined when the mirror has none.
 */
export async function lockMirrorRow(
  trx: Knex.Transaction,
  organizationId: string,
  pfaId: string,
): Promise<{ version: number; data: PfaRecord } | undefined> {
  return (await trx('pfa_mirror')
    .where({ organization_id: organizationId, pfa_id: pfaId })
    .forUpdate()
    .first('version', 'data')) as { version: number; data: PfaRecord } | undefined;
}

/** The record as PEMS had it at `version`, if the history has seen that version. */
export async function getMirrorVersion(
  db: Knex | Knex.Transaction,
  organizationId: string,
  pfaId: string,
  version: number,
): Promise<PfaRecord | null> {
  const row = await db('pfa_mirror_history')
    .where({ organization_id: organizationId, pfa_id: pfaId, version })
    .first('data');
  return row ? (row.data as PfaRecord) : null;
}

/** Many records at their base versions in one query: (org, pfa, version) triples. */
export async function getMirrorVersions(
  db: Knex | Knex.Transaction,
  keys: ReadonlyArray<{ organizationId: string; pfaId: string; version: number }>,
): Promise<Map<string, PfaRecord>> {
  const out = new Map<string, PfaRecord>();
  if (keys.length === 0) return out;
  const rows = await db('pfa_mirror_history')
    .whereIn(
      ['organization_id', 'pfa_id', 'version'],
      keys.map((k) => [k.organizationId, k.pfaId, k.version]),
    )
    .select('organization_id', 'pfa_id', 'version', 'data');
  for (const r of rows) out.set(`${r.organization_id}\u0000${r.pfa_id}\u0000${r.version}`, r.data as PfaRecord);
  return out;
}

export function mirrorVersionKey(organizationId: string, pfaId: string, version: number): string {
  return `${organizationId}\u0000${pfaId}\u0000${version}`;
}

export interface MirrorVersionInput {
  record: PfaRecord;
  origin: MirrorOrigin;
  modificationIds?: readonly string[];
}

/**
 * applyMirrorVersion for many records in one statement (the sink's group commit), with the
 * decision for each input in order. Several versions of one PFA in one call: the highest moves
 * the mirror, the others are reported as older.
 *
 * Each record goes to Postgres once, as one JSON array read by jsonb_to_recordset, and feeds both
 * the history insert and the mirror upsert (data-modifying CTEs). The mirror's versions before the
 * upsert are read in the same statement (its snapshot: under the upsert's row locks the answer
 * could only go up). Before, the records went twice, in three statements (issue 16).
 */
export async function applyMirrorVersions(
  db: Knex | Knex.Transaction,
  inputs: readonly MirrorVersionInput[],
): Promise<UpsertDecision[]> {
  if (inputs.length === 0) return [];
  const key = (r: PfaRecord): string => `${r.organization}\u0000${r.pfaId}`;
  const newest = new Map<string, PfaRecord>();
  for (const { record } of inputs) {
    const prev = newest.get(key(record));
    if (!prev || record.version > prev.version) newest.set(key(record), record);
  }
  const unsent = new Set(newest.values());
  const rows = inputs.map(({ record: r, origin, modificationIds }) => {
    const row: Record<string, unknown> = {
      organization_id: r.organization,
      pfa_id: r.pfaId,
      version: r.version,
      data: r,
      changed_by: r.updatedBy,
      pems_updated_at: r.updatedAt,
      origin,
      modification_ids: modificationIds && modificationIds.length > 0 ? [...modificationIds] : null,
    };
    // One mirror row per PFA, even when the same record is given twice.
    if (unsent.delete(r))
      Object.assign(row, {
        newest: true,
        forecast_start: r.forecastStart,
        forecast_end: r.forecastEnd,
        category: r.category,
        source: r.source,
        dor: r.dor,
        is_discontinued: r.isDiscontinued,
      });
    return row;
  });
  const res = await db.raw(
    `WITH x AS (
       SELECT * FROM jsonb_to_recordset(?::jsonb) AS x(organization_id text, pfa_id text, version int, data jsonb,
                changed_by text, pems_updated_at timestamptz, origin text, modification_ids uuid[], newest boolean,
                forecast_start date, forecast_end date, category text, source text, dor text, is_discontinued boolean)
     ), history AS (
       INSERT INTO pfa_mirror_history (organization_id, pfa_id, version, data, changed_by, pems_updated_at, origin, modification_ids)
       SELECT organization_id, pfa_id, version, data, changed_by, pems_updated_at, origin, modification_ids FROM x
       ON CONFLICT (organization_id, pfa_id, version) DO NOTHING
     ), before AS (
       SELECT m.organization_id, m.pfa_id, m.version FROM x
         JOIN pfa_mirror m ON m.organization_id = x.organization_id AND m.pfa_id = x.pfa_id
        WHERE x.newest
     ), moved AS (
       INSERT INTO pfa_mirror AS m (organization_id, pfa_id, version, data, forecast_start, forecast_end, category, source, dor,
                                    is_discontinued, pems_updated_at, last_synced_at)
       SELECT organization_id, pfa_id, version, data, forecast_start, forecast_end, category, source, dor,
              coalesce(is_discontinued, false), pems_updated_at, now()
         FROM x WHERE x.newest
       ON CONFLICT (organization_id, pfa_id) DO UPDATE SET
         version = EXCLUDED.version, data = EXCLUDED.data, forecast_start = EXCLUDED.forecast_start,
         forecast_end = EXCLUDED.forecast_end, category = EXCLUDED.category, source = EXCLUDED.source,
         dor = EXCLUDED.dor, is_discontinued = EXCLUDED.is_discontinued, pems_updated_at = EXCLUDED.pems_updated_at,
         last_synced_at = EXCLUDED.last_synced_at
       WHERE m.version < EXCLUDED.version
       RETURNING m.organization_id, m.pfa_id, (xmax = 0) AS inserted
     )
     SELECT organization_id, pfa_id, inserted, NULL::int AS version FROM moved
     UNION ALL
     SELECT organization_id, pfa_id, NULL, version FROM before`,
    [JSON.stringify(rows)],
  );
  const before = new Map<string, number>();
  const moved: Array<{ organization_id: string; pfa_id: string; inserted: boolean }> = [];
  type Answer = { organization_id: string; pfa_id: string; inserted: boolean | null; version: number | null };
  for (const r of res.rows as Answer[]) {
    if (r.inserted === null) before.set(`${r.organization_id}\u0000${r.pfa_id}`, Number(r.version));
    else moved.push({ organization_id: r.organization_id, pfa_id: r.pfa_id, inserted: r.inserted });
  }
  const applied = new Map<string, UpsertDecision>();
  for (const r of moved) {
    applied.set(`${r.organization_id}\u0000${r.pfa_id}`, r.inserted ? 'insert' : 'update');
  }
  return inputs.map(({ record }) => {
    const k = key(record);
    const winner = newest.get(k)!;
    if (winner === record && applied.has(k)) return applied.get(k)!;
    const had = before.get(k);
    return decideUpsert(
      had === undefined
        ? { version: winner.version }
        : { version: Math.max(had, winner === record ? -1 : winner.version) },
      record,
    );
  });
}
