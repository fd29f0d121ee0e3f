import { isCalendarDate, validateChangeShape, validateRecord, type FieldError } from '../../../streams/validation';
import type { PfaRecord } from '../../../streams/pfa-record';

const base: PfaRecord = {
  pfaId: 'PFA-000001',
  organization: 'RIO',
  version: 3,
  updatedAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'jdoe',
  forecastStart: '2026-01-15',
  forecastEnd: '2026-06-30',
  forecastCategory: 'Baseline',
  category: 'Cranes',
  source: 'Rental',
  dor: 'PROJECT',
  equipment: 'CR-0042',
  monthlyRate: 5500,
  purchasePrice: null,
  isDiscontinued: false,
  isFundsTransferable: true,
  actualEnd: null,
  description: 'crawler crane',
  notes: null,
  originalStart: '2026-01-01',
  originalEnd: '2026-05-31',
  class: 'Heavy Lift',
  areaSilo: 'North',
  manufacturer: 'Liebherr',
  model: 'LR 1300',
};

const fields = (errors: FieldError[]): string[] => errors.map((e) => e.field).sort();
const codes = (errors: FieldError[]): string[] => errors.map((e) => e.code ?? 'none');

describe('validateChangeShape', () => {
  it('when the changes are well typed editable fields, then there is no error', () => {
    expect(
      validateChangeShape({
        forecastStart: '2026-02-01',
        forecastEnd: null,
        monthlyRate: 1200.5,
        isDiscontinued: true,
        description: 'x',
        notes: null,
      }),
    ).toEqual([]);
  });

  it.each([null, 'str', 42, [1, 2], new Date()])(
    'when changes is %p (not a plain object), then VALIDATION_FAILED on changes',
    (value) => {
      const errors = validateChangeShape(value);
      expect(errors).toEqual([expect.objectContaining({ field: 'changes', code: 'VALIDATION_FAILED' })]);
    },
  );

  it('when a PEMS-owned field is written, then FIELD_NOT_EDITABLE names it', () => {
    const errors = validateChangeShape({ originalStart: '2026-01-01', class: 'X' });
    expect(fields(errors)).toEqual(['class', 'originalStart']);
    expect(codes(errors)).toEqual(['FIELD_NOT_EDITABLE', 'FIELD_NOT_EDITABLE']);
  });

  it('when an unknown or system field is written, then FIELD_NOT_EDITABLE names it', () => {
    const errors = validateChangeShape({ colour: 'red', version: 9 });
    expect(fields(errors)).toEqual(['colour', 'version']);
    expect(new Set(codes(errors))).toEqual(new Set(['FIELD_NOT_EDITABLE']));
  });

  it.each([
    ['forecastStart', '2026/01/15'],
    ['forecastEnd', '2026-02-30'],
    ['actualEnd', 20260101],
    ['forecastStart', '2026-13-01'],
  ])('when date field %s is %p, then VALIDATION_FAILED names it', (field, value) => {
    expect(validateChangeShape({ [field]: value })).toEqual([
      expect.objectContaining({ field, code: 'VALIDATION_FAILED' }),
    ]);
  });

  it.each([
    ['monthlyRate', '5500'],
    ['purchasePrice', Number.NaN],
    ['monthlyRate', Number.POSITIVE_INFINITY],
  ])('when money field %s is %p, then VALIDATION_FAILED names it', (field, value) => {
    expect(validateChangeShape({ [field]: value })).toEqual([
      expect.objectContaining({ field, code: 'VALIDATION_FAILED' }),
    ]);
  });

  it.each([
    ['isDiscontinued', 'true'],
    ['isFundsTransferable', null],
    ['isDiscontinued', 1],
  ])('when boolean field %s is %p, then VALIDATION_FAILED names it', (field, value) => {
    expect(validateChangeShape({ [field]: value })).toEqual([
      expect.objectContaining({ field, code: 'VALIDATION_FAILED' }),
    ]);
  });

  it.each([
    ['description', 12],
    ['category', { a: 1 }],
    ['dor', true],
  ])('when string field %s is %p, then VALIDATION_FAILED names it', (field, value) => {
    expect(validateChangeShape({ [field]: value })).toEqual([
      expect.objectContaining({ field, code: 'VALIDATION_FAILED' }),
    ]);
  });

  it('when several fields are wrong, then every one is reported', () => {
    expect(fields(validateChangeShape({ monthlyRate: 'x', model: 'y', forecastEnd: 'z' }))).toEqual([
      'forecastEnd',
      'model',
      'monthlyRate',
    ]);
  });
});

describe('isCalendarDate', () => {
  it('when the day exists (leap day 2028), then it is a calendar date', () => {
    expect(isCalendarDate('2028-02-29')).toBe(true);
  });
  it('when the day does not exist (2027-02-29), then it is not', () => {
    expect(isCalendarDate('2027-02-29')).toBe(false);
  });
});

describe('validateRecord', () => {
  it('when the record satisfies every rule, then there is no error', () => {
    expect(validateRecord(base)).toEqual([]);
  });

  it('when forecastEnd is before forecastStart, then VALIDATION_FAILED on forecastEnd', () => {
    const errors = validateRecord({ ...base, forecastEnd: '2026-01-14' });
    expect(errors).toEqual([expect.objectContaining({ field: 'forecastEnd', code: 'VALIDATION_FAILED' })]);
  });

  it('when forecastEnd equals forecastStart, then it is valid', () => {
    expect(validateRecord({ ...base, forecastEnd: '2026-01-15' })).toEqual([]);
  });

  it('when a date on the record is malformed, then VALIDATION_FAILED names it', () => {
    expect(fields(validateRecord({ ...base, actualEnd: '31/12/2026' }))).toEqual(['actualEnd']);
  });

  it.each(['beo', 'OTHER', null])('when dor is %p, then VALIDATION_FAILED on dor', (dor) => {
    expect(fields(validateRecord({ ...base, dor: dor as PfaRecord['dor'] }))).toEqual(['dor']);
  });

  it('when dor is BEO, then it is valid', () => {
    expect(validateRecord({ ...base, dor: 'BEO' })).toEqual([]);
  });

  it.each(['Lease', null])('when source is %p, then VALIDATION_FAILED on source', (source) => {
    expect(fields(validateRecord({ ...base, source: source as PfaRecord['source'] }))).toEqual(['source']);
  });

  it.each([0, null])('when a Rental has monthlyRate %p, then VALIDATION_FAILED on monthlyRate', (monthlyRate) => {
    expect(fields(validateRecord({ ...base, monthlyRate }))).toEqual(['monthlyRate']);
  });

  it.each([0, null])(
    'when a Purchase has purchasePrice %p, then VALIDATION_FAILED on purchasePrice',
    (purchasePrice) => {
      const errors = validateRecord({ ...base, source: 'Purchase', purchasePrice, monthlyRate: null });
      expect(fields(errors)).toEqual(['purchasePrice']);
    },
  );

  it('when a Purchase has a positive price and no rate, then it is valid', () => {
    expect(validateRecord({ ...base, source: 'Purchase', purchasePrice: 250000, monthlyRate: null })).toEqual([]);
  });

  it('when money is negative, then VALIDATION_FAILED names each negative field once', () => {
    const errors = validateRecord({ ...base, monthlyRate: -1, purchasePrice: -5 });
    expect(fields(errors)).toEqual(['monthlyRate', 'purchasePrice']);
  });

  it('when description is 501 characters, then VALIDATION_FAILED on description', () => {
    expect(fields(validateRecord({ ...base, description: 'd'.repeat(501) }))).toEqual(['description']);
  });

  it('when description is exactly 500 characters, then it is valid', () => {
    expect(validateRecord({ ...base, description: 'd'.repeat(500) })).toEqual([]);
  });

  it('when notes are 2001 characters, then VALIDATION_FAILED on notes', () => {
    expect(fields(validateRecord({ ...base, notes: 'n'.repeat(2001) }))).toEqual(['notes']);
  });

  it('when notes are exactly 2000 characters, then it is valid', () => {
    expect(validateRecord({ ...base, notes: 'n'.repeat(2000) })).toEqual([]);
  });

  it('when a partial record lacks the inputs of a rule, then that rule is skipped', () => {
    expect(validateRecord({ source: 'Rental' })).toEqual([]);
    expect(fields(validateRecord({ source: 'Rental', monthlyRate: 0 }))).toEqual(['monthlyRate']);
  });
});
