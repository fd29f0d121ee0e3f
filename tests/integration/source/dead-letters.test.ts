import { readSide, eventually, mirrorRow, readTopic, type ReadSideFixture } from './harness';
import type { PfaRecord } from '../../../streams/pfa-record';

describe('read side: records the mirror refuses', () => {
  let f: ReadSideFixture;

  beforeEach(async () => {
    f = await readSide('SRCD');
  });

  afterEach(async () => {
    await f.close();
  });

  const header = (h: unknown): string | undefined => {
    const v = Array.isArray(h) ? h.at(-1) : h;
    return v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  };

  it('when PEMS serves a record with an invalid date, then it goes to the dead-letter topic with the reason and the stream goes on', async () => {
    const [bad, good] = f.sim.control.seed({ organization: f.org, count: 2 }) as [string, string];
    await f.mirror();
    const poller = f.poller();
    await poller.runOnce();
    for (const id of [bad, good])
      await eventually(async () => (await mirrorRow(f.db, f.org, id)) !== undefined, 30_000, 'the full load');
    const before = await mirrorRow(f.db, f.org, bad);

    // PEMS starts serving a 30th of February on a newer version; a valid edit of another record follows it.
    const current = f.sim.control.getRecord(bad)!;
    const broken = {
      ...current,
      version: current.version + 1,
      updatedAt: new Date().toISOString(),
      forecastStart: '2026-02-30',
    } as PfaRecord;
    f.sim.control.putRecord(broken);
    const edited = f.sim.control.editAsPemsUser(good, { notes: 'after the bad one' }, 'jdoe');
    const [poll] = await poller.runOnce();
    expect(poll!.error).toBeUndefined();

    // The stream went on: the later, valid edit is mirrored.
    await eventually(
      async () => (await mirrorRow(f.db, f.org, good))?.version === edited.version,
      30_000,
      'the valid edit',
    );
    const dead = await eventually(
      async () => {
        const all = await readTopic(f.kafka, f.admin, f.dlqTopic);
        return all.length > 0 ? all : undefined;
      },
      30_000,
      'a dead letter',
    );
    expect(dead).toHaveLength(1);
    const dl = dead[0]!;
    // Original key and value, unchanged.
    expect(JSON.parse(dl.key!.toString())).toEqual({ organization_id: f.org, pfa_id: bad });
    expect(JSON.parse(dl.value!.toString())).toEqual({ record: broken, fetchedAt: expect.any(String) });
    // Kafka Connect's context headers, plus the original content-type header.
    const h = dl.headers!;
    expect(header(h['content-type'])).toBe('application/vnd.pems-sync.pfa-raw.v1+json');
    expect(header(h['__connect.errors.topic'])).toBe(f.rawTopic);
    expect(header(h['__connect.errors.partition'])).toMatch(/^\d+$/);
    expect(header(h['__connect.errors.offset'])).toMatch(/^\d+$/);
    expect(header(h['__connect.errors.stage'])).toBe('VALIDATE');
    expect(header(h['__connect.errors.exception.class.name'])).toBe('MirrorRecordError');
    expect(header(h['__connect.errors.exception.message'])).toBe(
      "forecastStart '2026-02-30' is not a valid YYYY-MM-DD date",
    );
    expect(header(h['__pems_sync.errors.code'])).toBe('PEMS_SYNC_MIRROR_RECORD_INVALID');

    // The mirror kept the last valid version of the broken record.
    expect(await mirrorRow(f.db, f.org, bad)).toEqual(before);
    const metrics = await f.registry.metrics();
    expect(metrics).toMatch(/pems_sync_mirror_records_total\{outcome="dead_letter"\} 1/);
    expect(metrics).toContain(`pems_sync_source_failures_total{organization="${f.org}",stage="validate"} 1`);
  });

  it('when a raw record cannot be decoded, then it is dead-lettered at the DECODE stage and the next record is mirrored', async () => {
    const [id] = f.sim.control.seed({ organization: f.org, count: 1 }) as [string];
    await f.mirror();
    const producer = f.kafka.producer();
    await producer.connect();
    try {
      const key = JSON.stringify({ organization_id: f.org, pfa_id: id });
      await producer.send({
        topic: f.rawTopic,
        acks: -1,
        messages: [{ key, value: 'not json', headers: { trace: 'abc' } }],
      });
    } finally {
      await producer.disconnect();
    }
    await f.poller().runOnce();
    await eventually(
      async () => (await mirrorRow(f.db, f.org, id)) !== undefined,
      30_000,
      'the record after the poison',
    );
    const [dl] = await readTopic(f.kafka, f.admin, f.dlqTopic);
    expect(dl!.value!.toString()).toBe('not json');
    expect(header(dl!.headers!.trace)).toBe('abc');
    expect(header(dl!.headers!['__connect.errors.stage'])).toBe('DECODE');
    expect(header(dl!.headers!['__connect.errors.exception.message'])).toBe('raw record value is not JSON');
  });
});
