/**
 * Regression (issue 13, item 5): dead-letter lists returned every record body twice (text and
 * base64), up to 500 a page: one 7 MiB dead letter made a 17.1 MB response and +90 MB in the
 * API. Lists now carry sizes and metadata; the detail returns the body in one form, capped.
 */
import { call, createOrg, harness, type Harness, type TestOrg } from '../integration/control-api/harness';

describe('regression: a 7 MiB dead letter does not make lists huge', () => {
  let h: Harness;
  let org: TestOrg;
  const big = Buffer.from(`{"op":"c","after":{"delta":"${'x'.repeat(7 * 1024 * 1024)}"}}`);
  const small = Buffer.from('{"op":"u"}');
  const ids: string[] = [];

  beforeAll(async () => {
    h = await harness();
    org = await createOrg(h.db, 'DLBIG');
    let offset = (Date.now() % 1_000_000_000) * 100;
    for (const value of [big, small, Buffer.from([0xff, 0xfe, 0x00, 0x41])]) {
      const [dl] = await h
        .db('dead_letter')
        .insert({
          organization_id: org.id,
          pfa_id: 'PFA-BIG',
          source_topic: 'vanguard.public.pfa_modification',
          source_partition: 1,
          source_offset: (offset += 1),
          record_key: Buffer.from(JSON.stringify({ organization_id: org.id, pfa_id: 'PFA-BIG' })),
          record_value: value,
          reason: 'after.delta is too large',
          error_code: 'PEMS_SYNC_POISON_EVENT',
        })
        .returning('id');
      ids.push(dl.id as string);
    }
  });
  afterAll(async () => {
    await h.close();
  });

  it('when listed, then the page carries sizes only; the detail returns the first 64 KiB once, marked truncated; binary comes as base64 only', async () => {
    const list = await call(h, org.reader, 'GET', `/dead-letters?organization=${org.id}&limit=500`);
    expect(list.statusCode).toBe(200);
    expect(list.body.length).toBeLessThan(16 * 1024);
    const items = list.json().items as Array<Record<string, unknown>>;
    expect(items.map((i) => i.id).sort()).toEqual([...ids].sort());
    expect(items.find((i) => i.id === ids[0])).toMatchObject({
      recordValueBytes: big.length,
      reason: 'after.delta is too large',
    });
    expect(items.every((i) => !('recordValue' in i) && !('recordValueBase64' in i))).toBe(true);

    const detail = await call(h, org.reader, 'GET', `/dead-letters/${ids[0]}`);
    expect(detail.statusCode).toBe(200);
    expect(detail.body.length).toBeLessThan(70 * 1024);
    const d = detail.json();
    expect(d).toMatchObject({
      recordValueBytes: big.length,
      recordValueTruncated: true,
      recordValueBase64: null,
      recordKeyTruncated: false,
    });
    expect(d.recordValue).toBe(big.subarray(0, 65536).toString('utf8'));

    // Nothing lost: the small one whole as text, the binary one whole as base64 (one form each).
    expect((await call(h, org.reader, 'GET', `/dead-letters/${ids[1]}`)).json()).toMatchObject({
      recordValue: '{"op":"u"}',
      recordValueBase64: null,
      recordValueTruncated: false,
    });
    expect((await call(h, org.reader, 'GET', `/dead-letters/${ids[2]}`)).json()).toMatchObject({
      recordValue: null,
      recordValueBase64: '//4AQQ==',
      recordValueTruncated: false,
    });
  });
});
