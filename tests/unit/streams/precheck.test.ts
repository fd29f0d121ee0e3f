import type { Modification } from '../../../streams/modification';
import { precheck } from '../../../streams/precheck';

const mod = (over: Partial<Modification> = {}): Modification => ({
  id: 'm1',
  organizationId: 'RIO',
  pfaId: 'P',
  userId: 'jdoe',
  operation: 'update',
  delta: { notes: 'n' },
  baseVersion: 3,
  changeReason: null,
  syncStatus: 'committed',
  syncError: null,
  pemsVersionAfter: null,
  attempts: 0,
  committedAt: null,
  syncedAt: null,
  createdAt: null,
  updatedAt: null,
  supersedesId: null,
  ...over,
});

describe('precheck (before any PEMS call)', () => {
  it('when sync is enabled, the user holds perm_Sync and the delta has a good shape, then the edit may go', () => {
    expect(precheck(mod(), { syncEnabled: true, permitted: true })).toBeNull();
  });

  it('when the organization has not enabled sync, then it is rejected naming the organization (before the permission)', () => {
    expect(precheck(mod(), { syncEnabled: false, permitted: false })).toEqual({
      kind: 'rejected',
      error: { code: 'PEMS_SYNC_SYNC_DISABLED', message: 'organization RIO has not enabled sync to PEMS' },
    });
  });

  it('when the user no longer holds perm_Sync, then it is rejected naming the user', () => {
    expect(precheck(mod(), { syncEnabled: true, permitted: false })).toEqual({
      kind: 'rejected',
      error: { code: 'PEMS_SYNC_PERMISSION_DENIED', message: 'user jdoe does not hold perm_Sync in RIO' },
    });
  });

  it('when an update writes a PEMS-owned or unknown field, then it is rejected with an error per field; a delete is not shape-checked', () => {
    const r = precheck(mod({ delta: { model: 'X', colour: 'red' } }), { syncEnabled: true, permitted: true });
    expect(r).toMatchObject({ kind: 'rejected', error: { code: 'PEMS_SYNC_VALIDATION_FAILED' } });
    expect(r?.kind === 'rejected' ? r.error.fieldErrors?.map((e) => e.field) : null).toEqual(['model', 'colour']);
    expect(
      precheck(mod({ operation: 'delete', delta: { model: 'X' } }), { syncEnabled: true, permitted: true }),
    ).toBeNull();
  });
});
