import { decodeRaw, rawKey, rawValue } from '../../../../connectors/source/raw';

describe('raw topic format', () => {
  it('when a record is keyed, then the key has the CDC topic shape {organization_id, pfa_id} in that order', () => {
    expect(rawKey('RIO', { pfaId: 'PFA-1' })).toBe('{"organization_id":"RIO","pfa_id":"PFA-1"}');
  });

  it('when a record has no string pfaId, then its key carries pfa_id null', () => {
    expect(JSON.parse(rawKey('RIO', { pfaId: 7 }))).toEqual({ organization_id: 'RIO', pfa_id: null });
    expect(JSON.parse(rawKey('RIO', null))).toEqual({ organization_id: 'RIO', pfa_id: null });
  });

  it('when a value is encoded and decoded, then the record comes back exactly as received with its fetch time', () => {
    const record = { pfaId: 'PFA-1', forecastStart: '2026-02-30', extra: { x: 1 } };
    const fetchedAt = new Date('2026-11-24T10:30:00.000Z');
    const d = decodeRaw(Buffer.from(rawKey('RIO', record)), Buffer.from(rawValue(record, fetchedAt)));
    expect(d).toEqual({
      ok: true,
      key: { organization_id: 'RIO', pfa_id: 'PFA-1' },
      record,
      fetchedAt: '2026-11-24T10:30:00.000Z',
    });
  });

  it.each([
    ['a tombstone', '{"organization_id":"RIO","pfa_id":"P"}', null, /tombstone/],
    ['a key that is not JSON', 'RIO:P', '{"record":{},"fetchedAt":"2026-01-01T00:00:00Z"}', /key is not JSON/],
    [
      'a key without organization',
      '{"pfa_id":"P"}',
      '{"record":{},"fetchedAt":"2026-01-01T00:00:00Z"}',
      /organization_id/,
    ],
    ['a value that is not JSON', '{"organization_id":"RIO"}', '{oops', /value is not JSON/],
    ['a value without record', '{"organization_id":"RIO"}', '{"fetchedAt":"2026-01-01T00:00:00Z"}', /no record/],
    ['a value without fetchedAt', '{"organization_id":"RIO"}', '{"record":{}}', /fetchedAt/],
  ])('when the raw record is %s, then decoding fails with a reason', (_what, key, value, reason) => {
    const d = decodeRaw(key, value);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.stage).toBe('DECODE');
      expect(d.reason).toMatch(reason);
    }
  });
});
