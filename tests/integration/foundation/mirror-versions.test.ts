/**
 * applyMirrorVersions, the sink's group commit of mirror records, is one statement (the history
 * insert, the versions before and the mirror upsert over one JSON array). Performed on the real
 * Postgres: several versions of one PFA in one call, a version given twice, a PFA new to the
 * mirror and one the mirror already holds at a higher version, and the call replayed.
 */
import type { Knex } from 'knex';
import { createDatabase } from '../../../connectors/postgres/db';
import { applyMirrorVersions } from '../../../connectors/postgres/mirror';
import { makeRecords } from '../../../connectors/pems-simulator/seed';
import type { PfaRecord } from '../../../streams/pfa-record';
import { testEnv, uniqueId } from '../../support/env';

describe('mirror versions in one statement', () => {
  let db: Knex;
  let org: string;

  beforeAll(async () => {
    db = createDatabase({ url: testEnv.databaseUrl, poolMax: 2 });
    org = uniqueId('MIRV');
    await db('organization').insert({ id: org, name: 'mirror versions', sync_enabled: false });
  });

  afterAll(async () => {
    await db.destroy();
  });

  const at = (r: PfaRecord, version: number, notes: string): PfaRecord => ({ ...r, version, notes });

  it('moves each mirror row to its highest version, keeps one history row per version and decides each input in order', async () => {
    const [a, b, c] = makeRecords({ organization: org, count: 3, updatedAt: () => '2026-12-03T08:00:00.000Z' });
    await applyMirrorVersions(db, [
      { record: at(a!, 1, 'a1'), origin: 'seed' },
      { record: at(c!, 9, 'c9'), origin: 'seed' },
    ]);

    const decisions = await applyMirrorVersions(db, [
      { record: at(a!, 2, 'a2'), origin: 'pems' },
      { record: at(a!, 3, 'a3'), origin: 'sync', modificationIds: ['6a0c5d9e-8f31-4b5e-9a57-0f3c9b8e2d11'] },
      { record: at(a!, 2, 'a2'), origin: 'pems' },
      { record: at(b!, 5, 'b5'), origin: 'pems' },
      { record: at(c!, 8, 'c8'), origin: 'pems' },
    ]);
    expect(decisions).toEqual(['ignore_older', 'update', 'ignore_older', 'insert', 'ignore_older']);

    const mirror = await db('pfa_mirror').where({ organization_id: org }).orderBy('pfa_id');
    expect(
      mirror.map((m: { pfa_id: string; version: number; data: PfaRecord }) => [m.pfa_id, m.version, m.data.notes]),
    ).toEqual([
      [a!.pfaId, 3, 'a3'],
      [b!.pfaId, 5, 'b5'],
      [c!.pfaId, 9, 'c9'],
    ]);
    const history = await db('pfa_mirror_history')
      .where({ organization_id: org })
      .orderBy(['pfa_id', 'version'])
      .select('pfa_id', 'version', 'origin', 'modification_ids', db.raw("data->>'notes' AS notes"));
    expect(
      history.map((h: { pfa_id: string; version: number; origin: string; notes: string }) => [
        h.pfa_id,
        h.version,
        h.origin,
        h.notes,
      ]),
    ).toEqual([
      [a!.pfaId, 1, 'seed', 'a1'],
      [a!.pfaId, 2, 'pems', 'a2'],
      [a!.pfaId, 3, 'sync', 'a3'],
      [b!.pfaId, 5, 'pems', 'b5'],
      [c!.pfaId, 8, 'pems', 'c8'],
      [c!.pfaId, 9, 'seed', 'c9'],
    ]);
    expect(history.find((h: { version: number }) => h.version === 3).modification_ids).toEqual([
      '6a0c5d9e-8f31-4b5e-9a57-0f3c9b8e2d11',
    ]);

    // Replayed: nothing moves, the same versions are duplicates now.
    const again = await applyMirrorVersions(db, [
      { record: at(a!, 3, 'a3'), origin: 'sync' },
      { record: at(b!, 5, 'b5'), origin: 'pems' },
    ]);
    expect(again).toEqual(['ignore_duplicate', 'ignore_duplicate']);
    expect(await db('pfa_mirror_history').where({ organization_id: org }).count('* as n').first()).toEqual({ n: '6' });
  });
});
