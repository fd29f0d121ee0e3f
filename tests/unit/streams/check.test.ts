import { decideWrite, discountOwnWrites, recordAfterWrite } from '../../../streams/check';
import type { CoalescedWrite } from '../../../streams/grouping';
import type { PfaRecord } from '../../../streams/pfa-record';

const record = (over: Partial<PfaRecord> = {}): PfaRecord => ({
  pfaId: 'PFA-1',
  organization: 'RIO',
  version: 5,
  updatedAt: '2026-11-01T00:00:00Z',
  updatedBy: 'pems',
  forecastStart: '2026-01-01',
  forecastEnd: '2026-06-30',
  forecastCategory: 'Baseline',
  category: 'Cranes',
  source: 'Rental',
  dor: 'PROJECT',
  equipment: 'CR-1',
  monthlyRate: 5000,
  purchasePrice: null,
  isDiscontinued: false,
  isFundsTransferable: true,
  actualEnd: null,
  description: 'd',
  notes: 'n',
  originalStart: null,
  originalEnd: null,
  class: null,
  areaSilo: null,
  manufacturer: null,
  model: null,
  ...over,
});

const write = (
  changes: Record<string, unknown>,
  baseVersion = 5,
  operation: 'update' | 'delete' = 'update',
): CoalescedWrite => ({
  key: 'k',
  organizationId: 'RIO',
  pfaId: 'PFA-1',
  operation,
  changes,
  modificationIds: ['m1'],
  modifiedBy: 'u1',
  changeReason: null,
  userIds: ['u1'],
  baseVersion,
  positions: [],
  traceId: null,
});

describe('decideWrite', () => {
  it('when PEMS is still at the base version, then the write carries that version unrebased', () => {
    expect(decideWrite({ write: write({ notes: 'x' }), current: record(), baseValues: record() })).toEqual({
      kind: 'write',
      version: 5,
      rebased: false,
      onto: record(),
    });
  });

  it('when PEMS moved another field, then the write is rebased onto the current version', () => {
    const d = decideWrite({
      write: write({ notes: 'x' }),
      current: record({ version: 7, description: 'pems' }),
      baseValues: record(),
    });
    expect(d).toMatchObject({ kind: 'write', version: 7, rebased: true });
  });

  it('when PEMS changed the same field to another value, then the outcome is a conflict naming it', () => {
    const d = decideWrite({
      write: write({ notes: 'ours' }),
      current: record({ version: 6, notes: 'theirs' }),
      baseValues: record(),
    });
    expect(d).toEqual({
      kind: 'outcome',
      outcome: {
        kind: 'conflict',
        pemsVersion: 6,
        fields: [expect.objectContaining({ field: 'notes', local: 'ours', pems: 'theirs', base: 'n' })],
      },
    });
  });

  it('when PEMS already holds the values, then it is synced without a write', () => {
    const d = decideWrite({
      write: write({ notes: 'same' }),
      current: record({ version: 6, notes: 'same' }),
      baseValues: record(),
    });
    expect(d).toMatchObject({
      kind: 'outcome',
      outcome: { kind: 'synced', alreadyApplied: true, pemsVersionAfter: 6 },
    });
  });

  it('when the record after the change breaks a PEMS rule, then it is rejected naming the field', () => {
    const d = decideWrite({ write: write({ forecastEnd: '2025-01-01' }), current: record(), baseValues: record() });
    expect(d).toMatchObject({
      kind: 'outcome',
      outcome: { kind: 'rejected', error: { fieldErrors: [expect.objectContaining({ field: 'forecastEnd' })] } },
    });
  });

  it('when a delta writes a PEMS-owned field, then it is rejected before anything else', () => {
    const d = decideWrite({
      write: write({ manufacturer: 'ACME' }),
      current: record({ version: 9, notes: 'theirs' }),
      baseValues: record(),
    });
    expect(d).toMatchObject({
      kind: 'outcome',
      outcome: { kind: 'rejected', error: { code: 'PEMS_SYNC_VALIDATION_FAILED' } },
    });
  });

  it('when nothing is known about the record, then the write goes on the base version and PEMS locks', () => {
    expect(decideWrite({ write: write({ notes: 'x' }, 3), current: null, baseValues: null })).toEqual({
      kind: 'write',
      version: 3,
      rebased: false,
      onto: null,
    });
  });

  it('when the write is a soft delete, then only the version matters', () => {
    expect(
      decideWrite({ write: write({}, 5, 'delete'), current: record({ version: 8 }), baseValues: null }),
    ).toMatchObject({ kind: 'write', version: 8, rebased: true });
  });
});

describe('discountOwnWrites', () => {
  it('when PEMS holds a value one of our own modifications wrote, then that field counts as unchanged', () => {
    const base = discountOwnWrites({ notes: 'original' }, { notes: 'first edit', version: 6 }, [
      { notes: 'first edit' },
    ]);
    expect(base).toEqual({ notes: 'first edit' });
    const d = decideWrite({
      write: write({ notes: 'second edit' }),
      current: record({ version: 6, notes: 'first edit' }),
      baseValues: base,
    });
    expect(d).toMatchObject({ kind: 'write', version: 6, rebased: true });
  });

  it('when a PEMS user changed the field after our write, then it is still a conflict', () => {
    const base = discountOwnWrites({ notes: 'original' }, { notes: 'PEMS user', version: 7 }, [
      { notes: 'first edit' },
    ]);
    expect(base).toEqual({ notes: 'original' });
  });

  it('when there are no base values and no own writes match, then nothing is known', () => {
    expect(discountOwnWrites(null, { notes: 'x' }, [{ notes: 'y' }])).toBeNull();
    expect(discountOwnWrites(null, null, [{ notes: 'y' }])).toBeNull();
  });
});

describe('recordAfterWrite', () => {
  it('when an update is written, then the mirror gets the new version, the values and the writer', () => {
    const r = recordAfterWrite(record(), write({ notes: 'new' }), 6, '2026-11-25T00:00:00Z');
    expect(r).toMatchObject({
      version: 6,
      notes: 'new',
      updatedBy: 'u1',
      updatedAt: '2026-11-25T00:00:00Z',
      description: 'd',
    });
  });

  it('when a soft delete is written, then the record is discontinued', () => {
    expect(recordAfterWrite(record(), write({}, 5, 'delete'), 6, 't').isDiscontinued).toBe(true);
  });
});
