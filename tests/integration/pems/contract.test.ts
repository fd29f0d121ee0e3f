import { inspect } from 'node:util';
import { idempotencyKeyFor, itemError, type PemsClient } from '../../../connectors/pems';
import type { PemsSimulator } from '../../../connectors/pems-simulator';
import { clientFor, failure, org, simulator, type Org } from './harness';

describe('PEMS contract through the real client over HTTPS', () => {
  const rio: Org = org('rio');
  const beo: Org = org('beo');
  let sim: PemsSimulator;
  let client: PemsClient;
  let beoClient: PemsClient;
  let ids: string[];
  let beoIds: string[];
  let keySeq = 0;
  const key = (): string => idempotencyKeyFor([`${Date.now()}-${keySeq++}`]);

  beforeAll(async () => {
    sim = await simulator([rio, beo]);
    ids = sim.control.seed({ organization: rio.organization, count: 30 });
    beoIds = sim.control.seed({ organization: beo.organization, count: 3 });
    client = clientFor(sim, rio);
    beoClient = clientFor(sim, beo);
  });

  afterAll(async () => {
    await client.close();
    await beoClient.close();
    await sim.close();
  });

  const id = (i: number): string => {
    const v = ids[i];
    if (!v) throw new Error(`no seeded id ${i}`);
    return v;
  };

  it('when health is asked, then PEMS is UP', async () => {
    await expect(client.health()).resolves.toEqual({ status: 'UP' });
  });

  it('when a record is read, then it has the contract fields with realistic values', async () => {
    const r = await client.getRecord(id(0));
    expect(r).toMatchObject({ pfaId: id(0), organization: rio.organization, isDiscontinued: false });
    expect(r.forecastStart).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(['Rental', 'Purchase']).toContain(r.source);
    expect(['BEO', 'PROJECT']).toContain(r.dor);
    expect(r.source === 'Rental' ? r.monthlyRate : r.purchasePrice).toBeGreaterThan(0);
    expect(typeof r.version).toBe('number');
  });

  it('when a record does not exist, then PEMS_SYNC_PEMS_NOT_FOUND', async () => {
    const e = await failure(client.getRecord('PFA-NOPE'));
    expect(e.code).toBe('PEMS_SYNC_PEMS_NOT_FOUND');
    expect(e.retriable).toBe(false);
  });

  // Answered like an unknown record, so a credential cannot probe which ids exist elsewhere (issue 13).
  it('when a record of another organization is read, then PEMS_SYNC_PEMS_NOT_FOUND (404), as for an unknown one', async () => {
    const e = await failure(client.getRecord(beoIds[0] ?? ''));
    expect(e).toMatchObject({ code: 'PEMS_SYNC_PEMS_NOT_FOUND', details: { status: 404 } });
  });

  it('when a record of another organization is written, then 404 and the record is unchanged', async () => {
    const target = beoIds[1] ?? '';
    const before = sim.control.getRecord(target);
    const e = await failure(
      client.updateRecord(
        target,
        { changes: { notes: 'x' }, version: before?.version ?? 0, modifiedBy: 'sync' },
        { idempotencyKey: key() },
      ),
    );
    expect(e).toMatchObject({ code: 'PEMS_SYNC_PEMS_NOT_FOUND', details: { status: 404 } });
    expect(sim.control.getRecord(target)).toEqual(before);
  });

  it('when the api key is wrong, then PEMS_SYNC_PEMS_UNAUTHORIZED (401) and the key is not in the error', async () => {
    const bad = clientFor(sim, { ...rio, apiKey: 'wrong-key-do-not-log' });
    try {
      const e = await failure(bad.getRecord(id(0)));
      expect(e).toMatchObject({ code: 'PEMS_SYNC_PEMS_UNAUTHORIZED', details: { status: 401 } });
      expect(inspect(e, { depth: 8 })).not.toContain('wrong-key-do-not-log');
      expect(JSON.stringify(e)).not.toContain('wrong-key-do-not-log');
    } finally {
      await bad.close();
    }
  });

  it('when the organization header does not match the credential, then 401', async () => {
    const bad = clientFor(sim, { ...rio, organization: beo.organization });
    try {
      expect(await failure(bad.getRecord(beoIds[0] ?? ''))).toMatchObject({
        code: 'PEMS_SYNC_PEMS_UNAUTHORIZED',
        details: { status: 401 },
      });
    } finally {
      await bad.close();
    }
  });

  it('when a valid change is written at the current version, then the version goes up by one and the field changes', async () => {
    const before = await client.getRecord(id(1));
    const res = await client.updateRecord(
      id(1),
      { changes: { notes: 'moved to laydown B' }, version: before.version, modifiedBy: 'sync' },
      { idempotencyKey: key() },
    );
    expect(res).toMatchObject({ success: true, pfaId: id(1), newVersion: before.version + 1, replayed: false });
    const after = await client.getRecord(id(1));
    expect(after).toMatchObject({ notes: 'moved to laydown B', version: before.version + 1, updatedBy: 'sync' });
    expect(sim.control.stats().writesApplied[id(1)]).toBe(1);
  });

  it('when PEMS edited field A and the client writes A at the old version, then a conflict naming [A]', async () => {
    const before = await client.getRecord(id(2));
    sim.control.editAsPemsUser(id(2), { forecastEnd: '2029-12-31' }, 'jdoe');
    const e = await failure(
      client.updateRecord(
        id(2),
        { changes: { forecastEnd: '2029-06-30' }, version: before.version, modifiedBy: 'sync' },
        { idempotencyKey: key() },
      ),
    );
    expect(e).toMatchObject({
      code: 'PEMS_SYNC_PEMS_CONFLICT',
      retriable: false,
      details: {
        currentVersion: before.version + 1,
        expectedVersion: before.version,
        conflictingFields: ['forecastEnd'],
      },
    });
    expect((await client.getRecord(id(2))).forecastEnd).toBe('2029-12-31');
  });

  it('when PEMS edited field A and the client writes B at the old version, then a version conflict with []', async () => {
    const before = await client.getRecord(id(3));
    sim.control.editAsPemsUser(id(3), { category: 'Cranes-Heavy' });
    const e = await failure(
      client.updateRecord(
        id(3),
        { changes: { notes: 'n' }, version: before.version, modifiedBy: 'sync' },
        { idempotencyKey: key() },
      ),
    );
    expect(e).toMatchObject({ code: 'PEMS_SYNC_PEMS_CONFLICT', details: { conflictingFields: [] } });
  });

  it('when only child-record activity moved the version, then a conflict with no conflicting field', async () => {
    const before = await client.getRecord(id(4));
    sim.control.childActivity(id(4), 2);
    const e = await failure(
      client.updateRecord(
        id(4),
        { changes: { forecastStart: before.forecastStart }, version: before.version, modifiedBy: 'sync' },
        { idempotencyKey: key() },
      ),
    );
    expect(e).toMatchObject({
      code: 'PEMS_SYNC_PEMS_CONFLICT',
      details: { currentVersion: before.version + 2, conflictingFields: [] },
    });
    const after = await client.getRecord(id(4));
    expect({ ...after, version: 0, updatedAt: '', updatedBy: '' }).toEqual({
      ...before,
      version: 0,
      updatedAt: '',
      updatedBy: '',
    });
  });

  it('when the same write is sent twice with one key, then it is applied once and the second is a replay', async () => {
    const before = await client.getRecord(id(5));
    const k = key();
    const req = { changes: { description: 'replay me' }, version: before.version, modifiedBy: 'sync' };
    const first = await client.updateRecord(id(5), req, { idempotencyKey: k });
    const second = await client.updateRecord(id(5), req, { idempotencyKey: k });
    expect(second).toMatchObject({ newVersion: first.newVersion, updatedAt: first.updatedAt, replayed: true });
    expect(sim.control.stats().writesApplied[id(5)]).toBe(1);
    expect((await client.getRecord(id(5))).version).toBe(before.version + 1);
  });

  it('when a key is reused with a different body, then 422 IDEMPOTENCY_KEY_REUSED and nothing is written', async () => {
    const before = await client.getRecord(id(6));
    const k = key();
    await client.updateRecord(
      id(6),
      { changes: { notes: 'one' }, version: before.version, modifiedBy: 'sync' },
      { idempotencyKey: k },
    );
    const e = await failure(
      client.updateRecord(
        id(6),
        { changes: { notes: 'two' }, version: before.version + 1, modifiedBy: 'sync' },
        { idempotencyKey: k },
      ),
    );
    expect(e).toMatchObject({
      code: 'PEMS_SYNC_PEMS_REJECTED',
      details: { status: 422, error: 'IDEMPOTENCY_KEY_REUSED' },
    });
    expect((await client.getRecord(id(6))).notes).toBe('one');
    expect(sim.control.stats().writesApplied[id(6)]).toBe(1);
  });

  it('when the change breaks a business rule, then PEMS_SYNC_PEMS_REJECTED with the field errors', async () => {
    const before = await client.getRecord(id(7));
    const e = await failure(
      client.updateRecord(
        id(7),
        {
          changes: { forecastEnd: '2000-01-01', description: 'd'.repeat(501) },
          version: before.version,
          modifiedBy: 'sync',
        },
        { idempotencyKey: key() },
      ),
    );
    expect(e).toMatchObject({
      code: 'PEMS_SYNC_PEMS_REJECTED',
      retriable: false,
      details: { status: 400, error: 'VALIDATION_FAILED' },
    });
    expect((e.details.fieldErrors as Array<{ field: string }>).map((f) => f.field).sort()).toEqual([
      'description',
      'forecastEnd',
    ]);
    expect((await client.getRecord(id(7))).version).toBe(before.version);
  });

  it('when a PEMS-owned field is written, then FIELD_NOT_EDITABLE naming it', async () => {
    const before = await client.getRecord(id(8));
    const e = await failure(
      client.updateRecord(
        id(8),
        { changes: { originalStart: '2026-01-01' } as never, version: before.version, modifiedBy: 'sync' },
        { idempotencyKey: key() },
      ),
    );
    expect(e).toMatchObject({
      code: 'PEMS_SYNC_PEMS_REJECTED',
      details: { error: 'FIELD_NOT_EDITABLE', fieldErrors: [{ field: 'originalStart' }] },
    });
  });

  it('when a field has the wrong type, then VALIDATION_FAILED naming it', async () => {
    const before = await client.getRecord(id(9));
    const e = await failure(
      client.updateRecord(
        id(9),
        { changes: { monthlyRate: 'lots' } as never, version: before.version, modifiedBy: 'sync' },
        { idempotencyKey: key() },
      ),
    );
    expect(e).toMatchObject({
      details: { status: 400, error: 'VALIDATION_FAILED', fieldErrors: [{ field: 'monthlyRate' }] },
    });
  });

  it('when a batch mixes outcomes, then each item stands alone with its own status', async () => {
    const ok = await client.getRecord(id(10));
    const conflicted = await client.getRecord(id(11));
    sim.control.editAsPemsUser(id(11), { notes: 'pems side' });
    const invalidRec = await client.getRecord(id(12));
    const results = await client.batchUpdate([
      { pfaId: id(10), changes: { notes: 'batch ok' }, version: ok.version, modifiedBy: 'sync', idempotencyKey: key() },
      {
        pfaId: id(11),
        changes: { notes: 'batch conflict' },
        version: conflicted.version,
        modifiedBy: 'sync',
        idempotencyKey: key(),
      },
      {
        pfaId: id(12),
        changes: { monthlyRate: -5 },
        version: invalidRec.version,
        modifiedBy: 'sync',
        idempotencyKey: key(),
      },
      { pfaId: 'PFA-MISSING', changes: { notes: 'x' }, version: 1, modifiedBy: 'sync', idempotencyKey: key() },
      { pfaId: beoIds[2] ?? '', changes: { notes: 'x' }, version: 1, modifiedBy: 'sync', idempotencyKey: key() },
    ]);
    expect(results.map((r) => r.status)).toEqual(['updated', 'conflict', 'invalid', 'not_found', 'not_found']);
    expect(results[0]).toMatchObject({ newVersion: ok.version + 1 });
    expect(results[1]?.error).toMatchObject({
      error: 'VERSION_CONFLICT',
      conflictingFields: ['notes'],
      expectedVersion: conflicted.version,
    });
    expect(results[2]?.error).toMatchObject({ error: 'VALIDATION_FAILED', fieldErrors: [{ field: 'monthlyRate' }] });
    expect(itemError(results[1] ?? { pfaId: '', status: 'updated' })?.code).toBe('PEMS_SYNC_PEMS_CONFLICT');
    expect((await client.getRecord(id(10))).notes).toBe('batch ok');
  });

  it('when a batch item is sent again with its key, then it is replayed, and a reused key with another body is invalid', async () => {
    const r = await client.getRecord(id(13));
    const k = key();
    const item = {
      pfaId: id(13),
      changes: { notes: 'batch once' },
      version: r.version,
      modifiedBy: 'sync',
      idempotencyKey: k,
    };
    const [first] = await client.batchUpdate([item]);
    const [again, reused] = await client.batchUpdate([item, { ...item, changes: { notes: 'other' } }]);
    expect(first).toMatchObject({ status: 'updated', newVersion: r.version + 1 });
    expect(again).toMatchObject({ status: 'updated', newVersion: r.version + 1 });
    expect(reused).toMatchObject({ status: 'invalid', error: { error: 'IDEMPOTENCY_KEY_REUSED' } });
    expect(sim.control.stats().writesApplied[id(13)]).toBe(1);
    expect(sim.control.stats().idempotentReplays).toBeGreaterThanOrEqual(1);
  });

  it('when a batch has more than 100 items, then the client refuses it without a request', async () => {
    const before = sim.control.stats().requests['POST /pfa/batch'] ?? {};
    const items = Array.from({ length: 101 }, (_, i) => ({
      pfaId: id(0),
      changes: { notes: `${i}` },
      version: 1,
      modifiedBy: 's',
      idempotencyKey: key(),
    }));
    const e = await failure(client.batchUpdate(items));
    expect(e).toMatchObject({ code: 'PEMS_SYNC_PEMS_REJECTED', details: { error: 'BATCH_TOO_LARGE' } });
    expect(sim.control.stats().requests['POST /pfa/batch'] ?? {}).toEqual(before);
  });

  it('when a record is soft-deleted, then isDiscontinued is set and the version bumps; a stale delete conflicts', async () => {
    const r = await client.getRecord(id(14));
    const k = idempotencyKeyFor([`del-${id(14)}`], 'delete');
    const res = await client.softDelete(
      id(14),
      { version: r.version, modifiedBy: 'sync', reason: 'demobilised' },
      { idempotencyKey: k },
    );
    expect(res).toEqual({ newVersion: r.version + 1 });
    // Same key again: a replay, not a second write.
    await client.softDelete(
      id(14),
      { version: r.version, modifiedBy: 'sync', reason: 'demobilised' },
      { idempotencyKey: k },
    );
    expect(await client.getRecord(id(14))).toMatchObject({ isDiscontinued: true, version: r.version + 1 });
    expect(sim.control.stats().writesApplied[id(14)]).toBe(1);
    const e = await failure(
      client.softDelete(id(14), { version: r.version, modifiedBy: 'sync', reason: 'again' }, { idempotencyKey: key() }),
    );
    expect(e).toMatchObject({ code: 'PEMS_SYNC_PEMS_CONFLICT', details: { conflictingFields: ['isDiscontinued'] } });
  });

  it('when changed records are listed in pages, then every record comes once, ordered by (updatedAt, pfaId)', async () => {
    const seen: Array<{ updatedAt: string; pfaId: string }> = [];
    let pages = 0;
    for await (const page of client.pages({ limit: 7 })) {
      pages += 1;
      expect(page.records.length).toBeLessThanOrEqual(7);
      seen.push(...page.records.map((r) => ({ updatedAt: r.updatedAt, pfaId: r.pfaId })));
    }
    expect(seen.map((s) => s.pfaId).sort()).toEqual([...ids].sort());
    expect(pages).toBe(Math.ceil(ids.length / 7));
    const sorted = [...seen].sort((a, b) =>
      a.updatedAt === b.updatedAt ? a.pfaId.localeCompare(b.pfaId) : a.updatedAt.localeCompare(b.updatedAt),
    );
    expect(seen).toEqual(sorted);
  });

  it('when listed since a time, then only records changed at or after it come back', async () => {
    const since = new Date().toISOString();
    sim.control.editAsPemsUser(id(20), { notes: 'late edit' });
    const page = await client.listChanged({ updatedSince: since });
    expect(page.records.map((r) => r.pfaId)).toEqual([id(20)]);
    expect(page.nextCursor).toBeNull();
  });

  it('when the list limit is over 500, then REJECTED naming limit', async () => {
    const e = await failure(client.listChanged({ limit: 501 }));
    expect(e).toMatchObject({ code: 'PEMS_SYNC_PEMS_REJECTED', details: { fieldErrors: [{ field: 'limit' }] } });
  });
});
