import { readSide, eventually, historyVersions, mirrorRow, readTopic, type ReadSideFixture } from './harness';
import { rawKey, rawValue } from '../../../connectors/source/raw';

/** Real Kafka, Postgres and Redis; PEMS is the in-process simulator over HTTPS. */
describe('read side: PEMS edits reach the mirror', () => {
  let f: ReadSideFixture;

  beforeEach(async () => {
    f = await readSide('SRCM');
  });

  afterEach(async () => {
    await f.close();
  });

  it('when PEMS users edit records, then the mirror holds each new version and the history has a row per version', async () => {
    const ids = f.sim.control.seed({ organization: f.org, count: 5 });
    const seeded = new Map(ids.map((id) => [id, f.sim.control.getRecord(id)!.version]));
    await f.mirror();
    const poller = f.poller();

    // First pass of a new organization: the full load.
    const [first] = await poller.runOnce();
    expect(first).toMatchObject({ organization: f.org, pages: 1, records: 5, completed: true });
    expect(first!.error).toBeUndefined();
    const cursor = await f.db('pems_source_cursor').where({ organization_id: f.org }).first();
    expect(cursor).toMatchObject({ mode: 'incremental', cursor: null, records_loaded: 5, last_error: null });
    expect(cursor.full_load_completed_at).not.toBeNull();
    expect(cursor.updated_since.toISOString()).toBe(
      [...ids]
        .map((id) => f.sim.control.getRecord(id)!.updatedAt)
        .sort()
        .at(-1),
    );
    for (const id of ids) {
      await eventually(
        async () => (await mirrorRow(f.db, f.org, id))?.version === seeded.get(id),
        30_000,
        `mirror of ${id}`,
      );
    }

    // PEMS users edit two records; child-record activity bumps a third without changing a field.
    const [a, b, c] = ids as [string, string, string];
    const editedA = f.sim.control.editAsPemsUser(a, { forecastEnd: '2027-03-31', notes: 'moved by PEMS' }, 'jdoe');
    f.sim.control.editAsPemsUser(b, { monthlyRate: 7777.5 }, 'mchen');
    const editedB = f.sim.control.editAsPemsUser(b, { description: 'second edit' }, 'mchen');
    const bumpedC = f.sim.control.childActivity(c, 2);
    const [second] = await poller.runOnce();
    expect(second!.error).toBeUndefined();
    // Inclusive updatedSince: the boundary record of the first pass comes again (ignored by the mirror).
    expect(second!.records).toBeGreaterThanOrEqual(3);

    await eventually(async () => (await mirrorRow(f.db, f.org, a))?.version === editedA.version, 30_000, 'edit of a');
    await eventually(async () => (await mirrorRow(f.db, f.org, b))?.version === editedB.version, 30_000, 'edit of b');
    await eventually(
      async () => (await mirrorRow(f.db, f.org, c))?.version === bumpedC.version,
      30_000,
      'child activity of c',
    );
    const rowA = await mirrorRow(f.db, f.org, a);
    expect(rowA!.data).toMatchObject({ forecastEnd: '2027-03-31', notes: 'moved by PEMS', updatedBy: 'jdoe' });
    const typed = await f
      .db('pfa_mirror')
      .where({ organization_id: f.org, pfa_id: a })
      .first('forecast_end', 'pems_updated_at');
    expect(typed.pems_updated_at.toISOString()).toBe(editedA.updatedAt);
    expect((await mirrorRow(f.db, f.org, b))!.data).toMatchObject({ monthlyRate: 7777.5, description: 'second edit' });

    // History: the seeded version and each version the poller saw (b's intermediate version was
    // overtaken by the second edit before the poll, so PEMS never listed it).
    expect(await historyVersions(f.db, f.org, a)).toEqual([
      { pfa_id: a, version: seeded.get(a)! },
      { pfa_id: a, version: editedA.version },
    ]);
    expect(await historyVersions(f.db, f.org, b)).toEqual([
      { pfa_id: b, version: seeded.get(b)! },
      { pfa_id: b, version: editedB.version },
    ]);
    const hist = await f
      .db('pfa_mirror_history')
      .where({ organization_id: f.org, pfa_id: a, version: editedA.version })
      .first();
    expect(hist).toMatchObject({ origin: 'pems', changed_by: 'jdoe' });

    // The raw topic: keyed like the CDC topic, the record as received plus its fetch time.
    const raw = await readTopic(f.kafka, f.admin, f.rawTopic);
    expect(raw.length).toBe(5 + second!.records);
    const ofA = raw
      .filter((m) => JSON.parse(m.key!.toString()).pfa_id === a)
      .map((m) => JSON.parse(m.value!.toString()));
    expect(ofA.at(-1)).toEqual({ record: editedA, fetchedAt: expect.any(String) });
    expect(JSON.parse(raw[0]!.key!.toString())).toEqual({ organization_id: f.org, pfa_id: expect.any(String) });

    // Metrics and the calls PEMS received: only GET /pfa.
    const text = await f.registry.metrics();
    expect(text).toContain(`pems_sync_source_pages_total{organization="${f.org}"} 2`);
    expect(text).toContain(`pems_sync_source_records_fetched_total{organization="${f.org}"} ${5 + second!.records}`);
    expect(text).toMatch(new RegExp(`pems_sync_source_lag_seconds\\{organization="${f.org}"\\} [\\d.e+-]+`));
    expect(Object.keys(f.sim.control.stats().requests)).toEqual(['GET /pfa']);
  });

  it('when an older or duplicate version arrives after a newer one, then the mirror keeps the newer version', async () => {
    const [id] = f.sim.control.seed({ organization: f.org, count: 1 }) as [string];
    const v1 = f.sim.control.getRecord(id)!;
    const v2 = f.sim.control.editAsPemsUser(id, { notes: 'newer' }, 'jdoe');
    await f.mirror();
    await f.poller().runOnce();
    await eventually(
      async () => (await mirrorRow(f.db, f.org, id))?.version === v2.version,
      30_000,
      'v2 in the mirror',
    );

    // Replays: the older version, and the same version with other content.
    const producer = f.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const marker = { ...v2, pfaId: `${id}-MARKER`, version: 1 };
      await producer.send({
        topic: f.rawTopic,
        acks: -1,
        messages: [
          { key: rawKey(f.org, v1), value: rawValue(v1, new Date()) },
          { key: rawKey(f.org, v2), value: rawValue({ ...v2, notes: 'same version, other content' }, new Date()) },
          { key: rawKey(f.org, v2), value: rawValue(v2, new Date()) },
        ],
      });
      // Keyed like the replays, so on their partition and mirrored after them: once it is there, they were handled.
      await producer.send({
        topic: f.rawTopic,
        acks: -1,
        messages: [{ key: rawKey(f.org, { pfaId: id }), value: rawValue(marker, new Date()) }],
      });
      await eventually(async () => (await mirrorRow(f.db, f.org, `${id}-MARKER`)) !== undefined, 30_000, 'the marker');
    } finally {
      await producer.disconnect();
    }
    const row = await mirrorRow(f.db, f.org, id);
    expect(row!.version).toBe(v2.version);
    expect(row!.data.notes).toBe('newer');
    expect(await historyVersions(f.db, f.org, id)).toEqual([
      { pfa_id: id, version: v1.version },
      { pfa_id: id, version: v2.version },
    ]);
    const text = await f.registry.metrics();
    expect(text).toMatch(/pems_sync_mirror_records_total\{outcome="ignore_older"\} 1/);
    expect(text).toMatch(/pems_sync_mirror_records_total\{outcome="ignore_duplicate"\} 2/);
  });
});
