import { readFileSync } from 'fs';
import { join } from 'path';
import * as avro from 'avsc';
import { decideUpsert, isCalendarDate, normalizePemsRecord, roundCents } from '../../../streams/mirror';

const raw = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  pfaId: 'PFA-000123',
  organization: 'RIO',
  version: 7,
  updatedAt: '2026-11-24T10:30:00Z',
  updatedBy: 'jdoe',
  forecastStart: '2026-01-15',
  forecastEnd: '2026-06-30',
  forecastCategory: 'Baseline',
  category: 'Cranes',
  source: 'Rental',
  dor: 'PROJECT',
  equipment: 'CR-0042',
  monthlyRate: 5500.0,
  purchasePrice: null,
  isDiscontinued: false,
  isFundsTransferable: true,
  actualEnd: null,
  description: 'crane',
  notes: 'n',
  originalStart: '2026-01-01',
  originalEnd: '2026-05-31',
  class: 'Heavy Lift',
  areaSilo: 'North',
  manufacturer: 'Liebherr',
  model: 'LTM 1100',
  ...over,
});

const reason = (over: Record<string, unknown>) => {
  const r = normalizePemsRecord(raw(over));
  expect(r.ok).toBe(false);
  return r.ok ? '' : r.reason;
};

describe('normalizePemsRecord', () => {
  it('when a contract record arrives, then every field is typed and unknown extras are dropped', () => {
    const r = normalizePemsRecord(raw({ extra: 'ignored' }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.record).toEqual({ ...raw(), updatedAt: '2026-11-24T10:30:00.000Z' });
    expect('extra' in r.record).toBe(false);
  });

  it('when nullable fields are missing, then they become null', () => {
    const r = normalizePemsRecord(
      raw({ notes: undefined, model: undefined, actualEnd: undefined, monthlyRate: undefined }),
    );
    expect(r.ok && [r.record.notes, r.record.model, r.record.actualEnd, r.record.monthlyRate]).toEqual([
      null,
      null,
      null,
      null,
    ]);
  });

  it('when money has sub-cent digits or arrives as a decimal string, then it is a number rounded to cents', () => {
    const r = normalizePemsRecord(raw({ monthlyRate: 1.005, purchasePrice: '1234.567' }));
    expect(r.ok && r.record.monthlyRate).toBe(1.01);
    expect(r.ok && r.record.purchasePrice).toBe(1234.57);
  });

  it.each([
    [{ monthlyRate: Number.POSITIVE_INFINITY }, /monthlyRate is not a finite number/],
    [{ monthlyRate: Number.NaN }, /monthlyRate is not a finite number/],
    [{ purchasePrice: '12,50' }, /purchasePrice is not a number/],
    [{ purchasePrice: true }, /purchasePrice is not a number/],
  ])('when money is %p, then the record is refused', (over, re) => {
    expect(reason(over)).toMatch(re);
  });

  it.each(['2026-02-30', '2025-02-29', '2026-13-01', '2026-00-10', '2026-1-5', '2026-01-15T00:00:00Z', '15/01/2026'])(
    'when a date is %s, then the record is refused naming the field',
    (d) => {
      expect(reason({ forecastStart: d })).toMatch(/forecastStart '.*' is not a valid YYYY-MM-DD date/);
    },
  );

  it('when a leap day is in a leap year, then it is accepted; an empty string date becomes null', () => {
    expect(normalizePemsRecord(raw({ actualEnd: '2028-02-29' })).ok).toBe(true);
    const r = normalizePemsRecord(raw({ actualEnd: '' }));
    expect(r.ok && r.record.actualEnd).toBeNull();
  });

  it.each([0, -1, 1.5, '7', null])('when version is %p, then the record is refused', (v) => {
    expect(reason({ version: v })).toMatch(/version/);
  });

  it('when updatedAt has an offset, then it is normalized to UTC ISO; without zone or unparseable it is refused', () => {
    const r = normalizePemsRecord(raw({ updatedAt: '2026-11-24T12:30:00+02:00' }));
    expect(r.ok && r.record.updatedAt).toBe('2026-11-24T10:30:00.000Z');
    expect(reason({ updatedAt: '2026-11-24T10:30:00' })).toMatch(/updatedAt/);
    expect(reason({ updatedAt: 'Nov 24 2026' })).toMatch(/updatedAt/);
    expect(reason({ updatedAt: undefined })).toMatch(/updatedAt/);
  });

  it('when enumerations hold values outside the contract, then the record is refused', () => {
    expect(reason({ source: 'Lease' })).toMatch(/source 'Lease'/);
    expect(reason({ dor: 'beo' })).toMatch(/dor 'beo'/);
  });

  it('when booleans or identity fields are ill-typed, then the record is refused', () => {
    expect(reason({ isDiscontinued: 'false' })).toMatch(/isDiscontinued/);
    expect(reason({ isFundsTransferable: undefined })).toMatch(/isFundsTransferable/);
    expect(reason({ pfaId: '' })).toMatch(/pfaId/);
    expect(reason({ organization: 5 })).toMatch(/organization/);
    expect(reason({ notes: 12 })).toMatch(/notes is not a string/);
  });

  it('when the input is not an object, then it is refused', () => {
    for (const v of [null, undefined, 'x', 3, []])
      expect(normalizePemsRecord(v)).toEqual({ ok: false, reason: 'record is not an object' });
  });
});

describe('isCalendarDate / roundCents', () => {
  it('when checking month ends, then 30/31 and February follow the calendar', () => {
    expect(['2026-04-30', '2026-01-31', '2024-02-29'].every(isCalendarDate)).toBe(true);
    expect(['2026-04-31', '2023-02-29', '1900-02-29'].some(isCalendarDate)).toBe(false);
    expect(isCalendarDate('2000-02-29')).toBe(true);
  });

  it('when rounding, then halves go away from zero and -0 becomes 0', () => {
    expect(roundCents(2.675)).toBe(2.68);
    expect(roundCents(-2.675)).toBe(-2.68);
    expect(Object.is(roundCents(-0.001), 0)).toBe(true);
    expect(roundCents(5500)).toBe(5500);
    expect(roundCents(1234567.994999)).toBe(1234567.99);
    expect(roundCents(1.005)).toBe(1.01);
  });
});

describe('decideUpsert', () => {
  it('when there is no mirror row, then insert', () => {
    expect(decideUpsert(null, { version: 1 })).toBe('insert');
    expect(decideUpsert(undefined, { version: 1 })).toBe('insert');
  });

  it('when the incoming version is higher, then update (even by more than one)', () => {
    expect(decideUpsert({ version: 7 }, { version: 8 })).toBe('update');
    expect(decideUpsert({ version: 7 }, { version: 12 })).toBe('update');
  });

  it('when the same version arrives again, then ignore it as a duplicate', () => {
    expect(decideUpsert({ version: 7 }, { version: 7 })).toBe('ignore_duplicate');
  });

  it('when an older version arrives late, then ignore it as older', () => {
    expect(decideUpsert({ version: 7 }, { version: 6 })).toBe('ignore_older');
  });
});

describe('pfa-raw.avsc', () => {
  const type = avro.Type.forSchema(
    JSON.parse(readFileSync(join(__dirname, '../../../schemas/avro/pfa-raw.avsc'), 'utf8')) as avro.Schema,
  );

  it('when a normalized record is checked against the raw-topic schema, then it validates and round-trips', () => {
    const r = normalizePemsRecord(raw({ monthlyRate: '99.999', notes: undefined }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(type.isValid(r.record)).toBe(true);
    expect(type.fromBuffer(type.toBuffer(r.record))).toEqual(r.record);
  });
});
