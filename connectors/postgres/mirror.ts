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
 * version is newer than what it holds. One atomic upsert, so the sink and the read side can
 * race on the same record and the mirror still ends at the highest version.
 */
export async function applyMirrorVersion(
  db: Knex | Knex.Transaction,
  input: { record: PfaRecord; origin: MirrorOrigin; modificationIds?: readonly string[] },
): Promise<UpsertDecision> {
  const r = input.record;
  await db('pfa_mirror_history')
    .insert({
      organization_id: r.organization,
      pfa_id: r.pfaId,
      version: r.version,
      data: JSON.stringify(r),
      changed_by: r.updatedBy,
      pems_updated_at: r.updatedAt,
      origin: input.origin,
      modification_ids: input.modificationIds && input.modificationIds.length > 0 ? [...input.modificationIds] : null,
    })
    .onConflict(['organization_id', 'pfa_id', 'version'])
    .ignore();

  const row = {
    organization_id: r.organization,
    pfa_id: r.pfaId,
    version: r.version,
    data: JSON.stringify(r),
    forecast_start: r.forecastStart,
    forecast_end: r.forecastEnd,
    category: r.category,
    source: r.source,
    dor: r.dor,
    is_discontinued: r.isDiscontinued,
    pems_updated_at: r.updatedAt,
    last_synced_at: db.fn.now(),
  };
  const result = await db.raw(
    `INSERT INTO pfa_mirror AS m (${Object.keys(row).join(', ')})
     VALUES (${Object.keys(row).map(() => '?').join(', ')})
     ON CONFLICT (organization_id, pfa_id) DO UPDATE SET
       version = EXCLUDED.version, data = EXCLUDED.data, forecast_start = EXCLUDED.forecast_start,
       forecast_end = EXCLUDED.forecast_end, category = EXCLUDED.category, source = EXCLUDED.source,
       dor = EXCLUDED.dor, is_discontinued = EXCLUDED.is_discontinued, pems_updated_at = EXCLUDED.pems_updated_at,
       last_synced_at = EXCLUDED.last_synced_at
     WHERE m.version < EXCLUDED.version
     RETURNING (xmax = 0) AS inserted`,
    Object.values(row),
  );
  const returned = (result.rows as Array<{ inserted: boolean }>)[0];
  if (returned) return returned.inserted ? 'insert' : 'update';
  const current = await db('pfa_mirror').where({ organization_id: r.organization, pfa_id: r.pfaId }).first('version');
  return decideUpsert(current ? { version: Number(current.version) } : null, r);
}

export async function getMirror(db: Knex | Knex.Transaction, organizationId: string, pfaId: string): Promise<MirrorRow | null> {
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

/**
 * applyMirrorVersion for many records in two statements (the sink's group commit): history rows
 * for every version, and the mirror moved forward only where the version is newer. Several
 * versions of one PFA in one call keep the highest for the mirror.
 */
export async function applyMirrorVersions(
  db: Knex | Knex.Transaction,
  inputs: ReadonlyArray<{ record: PfaRecord; origin: MirrorOrigin; modificationIds?: readonly string[] }>,
): Promise<void> {
  if (inputs.length === 0) return;
  const history = inputs.map(({ record: r, origin, modificationIds }) => ({
    organization_id: r.organization,
    pfa_id: r.pfaId,
    version: r.version,
    data: r,
    changed_by: r.updatedBy,
    pems_updated_at: r.updatedAt,
    origin,
    modification_ids: modificationIds && modificationIds.length > 0 ? [...modificationIds] : null,
  }));
  await db.raw(
    `INSERT INTO pfa_mirror_history (organization_id, pfa_id, version, data, changed_by, pems_updated_at, origin, modification_ids)
     SELECT organization_id, pfa_id, version, data, changed_by, pems_updated_at, origin, modification_ids
       FROM jsonb_to_recordset(?::jsonb) AS x(organization_id text, pfa_id text, version int, data jsonb, changed_by text,
                                              pems_updated_at timestamptz, origin text, modification_ids uuid[])
     ON CONFLICT (organization_id, pfa_id, version) DO NOTHING`,
    [JSON.stringify(history)],
  );
  const newest = new Map<string, PfaRecord>();
  for (const { record } of inputs) {
    const k = `${record.organization}\u0000${record.pfaId}`;
    const prev = newest.get(k);
    if (!prev || record.version > prev.version) newest.set(k, record);
  }
  const rows = [...newest.values()].map((r) => ({
    organization_id: r.organization,
    pfa_id: r.pfaId,
    version: r.version,
    data: r,
    forecast_start: r.forecastStart,
    forecast_end: r.forecastEnd,
    category: r.category,
    source: r.source,
    dor: r.dor,
    is_discontinued: r.isDiscontinued,
    pems_updated_at: r.updatedAt,
  }));
  await db.raw(
    `INSERT INTO pfa_mirror AS m (organization_id, pfa_id, version, data, forecast_start, forecast_end, category, source, dor,
                                  is_discontinued, pems_updated_at, last_synced_at)
     SELECT organization_id, pfa_id, version, data, forecast_start, forecast_end, category, source, dor,
            coalesce(is_discontinued, false), pems_updated_at, now()
       FROM jsonb_to_recordset(?::jsonb) AS x(organization_id text, pfa_id text, version int, data jsonb, forecast_start date,
                                              forecast_end date, category text, source text, dor text, is_discontinued boolean,
                                              pems_updated_at timestamptz)
     ON CONFLICT (organization_id, pfa_id) DO UPDATE SET
       version = EXCLUDED.version, data = EXCLUDED.data, forecast_start = EXCLUDED.forecast_start,
       forecast_end = EXCLUDED.forecast_end, category = EXCLUDED.category, source = EXCLUDED.source,
       dor = EXCLUDED.dor, is_discontinued = EXCLUDED.is_discontinued, pems_updated_at = EXCLUDED.pems_updated_at,
       last_synced_at = EXCLUDED.last_synced_at
     WHERE m.version < EXCLUDED.version`,
    [JSON.stringify(rows)],
  );
}
