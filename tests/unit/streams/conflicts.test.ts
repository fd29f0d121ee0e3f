import { applyResolution, checkVersion, diffFields, ResolutionError, sameValue } from '../../../streams/conflicts';
import { PfaRecord } from '../../../streams/pfa-record';
import { PemsSyncError } from '../../../streams/errors';

const record = (over: Partial<PfaRecord> = {}): PfaRecord => ({
  pfaId: 'PFA-000123',
  organization: 'RIO',
  version: 7,
  updatedAt: '2026-11-24T10:30:00Z',
  updatedBy: 'pems',
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
  description: 'crane',
  notes: 'n',
  originalStart: '2026-01-01',
  originalEnd: '2026-05-31',
  class: 'Heavy Lift',
  areaSilo: 'North',
  manufacturer: 'Liebherr',
  model: 'LTM',
  ...over,
});

const base = record();
const baseValues = {
  forecastEnd: base.forecastEnd,
  monthlyRate: base.monthlyRate,
  notes: base.notes,
  description: base.description,
};

describe('checkVersion', () => {
  it('when PEMS is still at the base version, then the check is clean', () => {
    expect(checkVersion({ changes: { forecastEnd: '2026-07-31' }, baseValues, baseVersion: 7, current: base })).toEqual(
      { kind: 'clean' },
    );
  });

  it('when only a child record bumped the version (no field moved), then it rebases onto the current version', () => {
    const r = checkVersion({
      changes: { forecastEnd: '2026-07-31' },
      baseValues,
      baseVersion: 7,
      current: record({ version: 8 }),
    });
    expect(r).toEqual({ kind: 'rebase', onVersion: 8, pemsMovedFields: [], alreadyAppliedFields: [] });
  });

  it('when PEMS moved only a field the user did not change, then it rebases and names that field', () => {
    const r = checkVersion({
      changes: { forecastEnd: '2026-07-31' },
      baseValues,
      baseVersion: 7,
      current: record({ version: 9, notes: 'pems note' }),
    });
    expect(r).toEqual({ kind: 'rebase', onVersion: 9, pemsMovedFields: ['notes'], alreadyAppliedFields: [] });
  });

  it('when PEMS changed a field the user also changed to another value, then it is a conflict with base/local/pems', () => {
    const r = checkVersion({
      changes: { forecastEnd: '2026-07-31', notes: 'mine' },
      baseValues,
      baseVersion: 7,
      current: record({ version: 9, forecastEnd: '2026-09-30' }),
    });
    expect(r).toEqual({
      kind: 'conflict',
      onVersion: 9,
      fields: [{ field: 'forecastEnd', base: '2026-06-30', baseKnown: true, local: '2026-07-31', pems: '2026-09-30' }],
      changes: { forecastEnd: '2026-07-31', notes: 'mine' },
    });
  });

  it('when PEMS already holds the user value for every changed field, then it is already_applied', () => {
    const r = checkVersion({
      changes: { forecastEnd: '2026-07-31', monthlyRate: 6000 },
      baseValues,
      baseVersion: 7,
      current: record({ version: 8, forecastEnd: '2026-07-31', monthlyRate: 6000.0 }),
    });
    expect(r).toEqual({ kind: 'already_applied', onVersion: 8 });
  });

  it('when PEMS holds the user value for one field and did not move the other, then it rebases listing the applied field', () => {
    const r = checkVersion({
      changes: { forecastEnd: '2026-07-31', notes: 'mine' },
      baseValues,
      baseVersion: 7,
      current: record({ version: 8, forecastEnd: '2026-07-31' }),
    });
    expect(r).toMatchObject({
      kind: 'rebase',
      alreadyAppliedFields: ['forecastEnd'],
      pemsMovedFields: ['forecastEnd'],
    });
  });

  it('when base values are missing but the 409 names the field, then that field is a conflict with unknown base', () => {
    const r = checkVersion({
      changes: { forecastEnd: '2026-07-31', notes: 'mine' },
      baseValues: null,
      baseVersion: 7,
      current: record({ version: 9, forecastEnd: '2026-09-30' }),
      conflictingFields: ['forecastEnd'],
    });
    expect(r).toMatchObject({
      kind: 'conflict',
      fields: [{ field: 'forecastEnd', baseKnown: false, base: null, pems: '2026-09-30' }],
    });
  });

  it('when base values are missing and the 409 lists no conflicting fields, then it rebases', () => {
    const r = checkVersion({
      changes: { notes: 'mine' },
      baseVersion: 7,
      current: record({ version: 9 }),
      conflictingFields: [],
    });
    expect(r).toEqual({ kind: 'rebase', onVersion: 9, pemsMovedFields: [], alreadyAppliedFields: [] });
  });

  it('when base values are missing and there is no 409 information, then the result is unknown (ask PEMS)', () => {
    const r = checkVersion({ changes: { notes: 'mine' }, baseVersion: 7, current: record({ version: 9 }) });
    expect(r).toEqual({ kind: 'unknown', onVersion: 9, unknownFields: ['notes'] });
  });

  it('when the user clears a field that PEMS set meanwhile, then it is a conflict (null vs value)', () => {
    const r = checkVersion({
      changes: { actualEnd: null },
      baseValues: { actualEnd: '2026-05-01' },
      baseVersion: 7,
      current: record({ version: 8, actualEnd: '2026-06-01' }),
    });
    expect(r.kind).toBe('conflict');
  });

  it('when the changes are empty and the version moved, then it rebases (nothing can conflict)', () => {
    expect(checkVersion({ changes: {}, baseValues, baseVersion: 7, current: record({ version: 8 }) }).kind).toBe(
      'rebase',
    );
  });

  it('when PEMS is somehow behind the base version, then fields are still checked the same way', () => {
    const r = checkVersion({
      changes: { notes: 'x' },
      baseValues,
      baseVersion: 7,
      current: record({ version: 6, notes: 'y' }),
    });
    expect(r.kind).toBe('conflict');
  });
});

describe('sameValue', () => {
  it('when values are JSON-equal objects in another key order, then they are the same; undefined equals null', () => {
    expect(sameValue({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(sameValue(undefined, null)).toBe(true);
    expect(sameValue([1], { 0: 1 })).toBe(false);
    expect(sameValue('1', 1)).toBe(false);
    expect(sameValue(0, null)).toBe(false);
  });
});

describe('diffFields', () => {
  it('when two records differ, then editable fields come in catalogue order and system fields are ignored', () => {
    const d = diffFields(
      base,
      record({ version: 12, updatedAt: 'x', notes: 'm', forecastStart: '2026-02-01', model: 'X' }),
    );
    expect(d).toEqual([
      { field: 'forecastStart', before: '2026-01-15', after: '2026-02-01' },
      { field: 'notes', before: 'n', after: 'm' },
      { field: 'model', before: 'LTM', after: 'X' },
    ]);
  });

  it('when a field is missing on one side, then it counts as null', () => {
    expect(diffFields({ notes: 'a' }, {})).toEqual([{ field: 'notes', before: 'a', after: null }]);
    expect(diffFields({ notes: null }, {})).toEqual([]);
  });

  it('when fields are given, then only those are compared', () => {
    expect(diffFields(base, record({ notes: 'm', description: 'd' }), ['description'])).toEqual([
      { field: 'description', before: 'crane', after: 'd' },
    ]);
  });
});

describe('applyResolution', () => {
  const conflict = {
    fields: [
      { field: 'forecastEnd', base: '2026-06-30', baseKnown: true, local: '2026-07-31', pems: '2026-09-30' },
      { field: 'monthlyRate', base: 5500, baseKnown: true, local: 6000, pems: 6500 },
    ],
    changes: { forecastEnd: '2026-07-31', monthlyRate: 6000, notes: 'mine' },
  };

  it('when use_local, then all the user changes are kept', () => {
    expect(applyResolution(conflict, 'use_local')).toEqual(conflict.changes);
  });

  it('when use_pems, then the conflicting fields are dropped and the other user fields kept', () => {
    expect(applyResolution(conflict, 'use_pems')).toEqual({ notes: 'mine' });
  });

  it('when merge with values for every conflicting field, then those values replace the user values', () => {
    expect(applyResolution(conflict, 'merge', { forecastEnd: '2026-08-31', monthlyRate: 6500 })).toEqual({
      forecastEnd: '2026-08-31',
      monthlyRate: 6500,
      notes: 'mine',
    });
  });

  it('when merge names a field outside the conflict, then it throws naming the field', () => {
    const run = () => applyResolution(conflict, 'merge', { forecastEnd: 'x', monthlyRate: 1, notes: 'y', dor: 'BEO' });
    expect(run).toThrow(ResolutionError);
    expect(run).toThrow(/notes, dor/);
    try {
      run();
    } catch (e) {
      expect(e).toBeInstanceOf(PemsSyncError);
      expect((e as PemsSyncError).code).toBe('PEMS_SYNC_RESOLUTION_INVALID');
      expect((e as PemsSyncError).details).toEqual({ fields: ['notes', 'dor'] });
    }
  });

  it('when merge leaves a conflicting field out or gives no values, then it throws naming the missing field', () => {
    expect(() => applyResolution(conflict, 'merge', { forecastEnd: 'x' })).toThrow(/undecided: monthlyRate/);
    expect(() => applyResolution(conflict, 'merge')).toThrow(ResolutionError);
  });

  it('when resolving, then the conflict object is not mutated', () => {
    applyResolution(conflict, 'merge', { forecastEnd: 'x', monthlyRate: 1 });
    expect(conflict.changes).toEqual({ forecastEnd: '2026-07-31', monthlyRate: 6000, notes: 'mine' });
  });
});
