import { earlyWarningFields, movedFields } from '../../../../connectors/source/early-warning';
import type { PfaRecord } from '../../../../streams/pfa-record';

const base: PfaRecord = {
  pfaId: 'PFA-1',
  organization: 'RIO',
  version: 5,
  updatedAt: '2026-11-24T10:30:00.000Z',
  updatedBy: 'jdoe',
  forecastStart: '2026-01-15',
  forecastEnd: '2026-06-30',
  forecastCategory: 'Baseline',
  category: 'Cranes',
  source: 'Rental',
  dor: 'PROJECT',
  equipment: 'CR-1',
  monthlyRate: 5500,
  purchasePrice: null,
  isDiscontinued: false,
  isFundsTransferable: true,
  actualEnd: null,
  description: 'd',
  notes: null,
  originalStart: null,
  originalEnd: null,
  class: null,
  areaSilo: null,
  manufacturer: null,
  model: null,
};
const v = (version: number, changes: Partial<PfaRecord> = {}): PfaRecord => ({
  ...base,
  ...changes,
  version,
  updatedAt: `2026-11-24T10:3${version}:00.000Z`,
});

describe('early conflict warning', () => {
  it('when only bookkeeping fields differ (child-record activity), then no field moved', () => {
    expect(movedFields(v(5) as never, v(6, { updatedBy: 'EAM-BATCH' }) as never)).toEqual([]);
  });

  it('when PEMS moves a field the modification changes to another value, then that field warns with base, local and pems', () => {
    const fields = earlyWarningFields({
      delta: { forecastEnd: '2026-07-31', notes: 'mine' },
      baseVersion: 5,
      previous: v(5) as never,
      current: v(6, { forecastEnd: '2026-08-31' }),
      baseValues: v(5) as never,
    });
    expect(fields).toEqual([{ field: 'forecastEnd', base: '2026-06-30', local: '2026-07-31', pems: '2026-08-31' }]);
  });

  it('when PEMS moves only fields the modification leaves alone, then nothing warns', () => {
    expect(
      earlyWarningFields({
        delta: { notes: 'mine' },
        baseVersion: 5,
        previous: v(5) as never,
        current: v(6, { forecastEnd: '2026-08-31' }),
      }),
    ).toEqual([]);
  });

  it("when PEMS moves the field to the user's own value, then nothing warns (already applied)", () => {
    expect(
      earlyWarningFields({
        delta: { forecastEnd: '2026-07-31' },
        baseVersion: 5,
        previous: v(5) as never,
        current: v(6, { forecastEnd: '2026-07-31' }),
      }),
    ).toEqual([]);
  });

  it('when the modification is based on this version or later, then nothing warns', () => {
    expect(
      earlyWarningFields({
        delta: { forecastEnd: '2026-07-31' },
        baseVersion: 6,
        previous: v(5) as never,
        current: v(6, { forecastEnd: '2026-08-31' }),
      }),
    ).toEqual([]);
  });

  it('when PEMS moves the field back to the base value, then nothing warns', () => {
    const fields = earlyWarningFields({
      delta: { forecastEnd: '2026-07-31' },
      baseVersion: 5,
      previous: v(6, { forecastEnd: '2026-08-31' }) as never,
      current: v(7, { forecastEnd: '2026-06-30' }),
      baseValues: v(5) as never,
    });
    expect(fields).toEqual([]);
  });

  it('when the base version is not in the history, then the previous mirror value stands in as base', () => {
    const fields = earlyWarningFields({
      delta: { monthlyRate: 6000 },
      baseVersion: 3,
      previous: v(5, { monthlyRate: 5500 }) as never,
      current: v(6, { monthlyRate: 7000 }),
      baseValues: null,
    });
    expect(fields).toEqual([{ field: 'monthlyRate', base: 5500, local: 6000, pems: 7000 }]);
  });

  it('when several fields warn, then they come in catalogue order', () => {
    const fields = earlyWarningFields({
      delta: { notes: 'n', forecastStart: '2026-01-01' },
      baseVersion: 5,
      previous: v(5) as never,
      current: v(6, { notes: 'pems', forecastStart: '2026-02-01' }),
    });
    expect(fields.map((f) => f.field)).toEqual(['forecastStart', 'notes']);
  });
});
