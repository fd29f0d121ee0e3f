import { coalesce, fold, pfaKey, segment, WorkItem } from '../../../streams/grouping';
import { Modification } from '../../../streams/modification';

let seq = 0;
function item(over: Partial<Modification> & { offset?: string; partition?: number; traceId?: string } = {}): WorkItem {
  seq += 1;
  const { offset, partition, traceId, ...m } = over;
  return {
    modification: {
      id: `m${seq}`,
      organizationId: 'RIO',
      pfaId: 'PFA-1',
      userId: 'jdoe',
      operation: 'update',
      delta: {},
      baseVersion: 7,
      changeReason: null,
      syncStatus: 'committed',
      syncError: null,
      pemsVersionAfter: null,
      attempts: 0,
      committedAt: '2026-11-24T10:30:00Z',
      syncedAt: null,
      createdAt: null,
      updatedAt: null,
      supersedesId: null,
      ...m,
    },
    position: { topic: 't', partition: partition ?? 0, offset: offset ?? String(seq) },
    traceId: traceId ?? null,
  };
}

describe('pfaKey', () => {
  it('when two different (org, pfa) pairs would collide under a separator, then their keys differ', () => {
    expect(pfaKey('A:B', 'C')).not.toBe(pfaKey('A', 'B:C'));
  });
});

describe('segment', () => {
  it('when updates surround a delete, then the run is cut before and after the delete', () => {
    const u1 = item();
    const u2 = item();
    const d = item({ operation: 'delete' });
    const u3 = item();
    expect(segment([u1, u2, d, u3])).toEqual([[u1, u2], [d], [u3]]);
  });

  it('when two deletes follow each other, then each is its own run', () => {
    const d1 = item({ operation: 'delete' });
    const d2 = item({ operation: 'delete' });
    expect(segment([d1, d2])).toEqual([[d1], [d2]]);
  });

  it('when there are no items, then there are no runs', () => {
    expect(segment([])).toEqual([]);
  });
});

describe('fold / coalesce', () => {
  it('when a later edit touches a field again, then it wins and the field moves to the end of the changes', () => {
    const w = fold([item({ delta: { a: 1, b: 2, c: 3 } }), item({ delta: { a: 10 } })]);
    expect(w.changes).toEqual({ a: 10, b: 2, c: 3 });
    expect(Object.keys(w.changes)).toEqual(['b', 'c', 'a']);
  });

  it('when several updates are folded, then later values win per field and earlier untouched fields remain', () => {
    const w = fold([
      item({
        delta: { forecastEnd: '2026-07-01', notes: 'a' },
        userId: 'ann',
        baseVersion: 7,
        changeReason: 'first',
        traceId: 't1',
      }),
      item({ delta: { forecastEnd: '2026-08-01' }, userId: 'bob', baseVersion: 5, changeReason: null }),
      item({ delta: { monthlyRate: 10 }, userId: 'ann', baseVersion: 8, changeReason: 'last' }),
    ]);
    expect(w.changes).toEqual({ forecastEnd: '2026-08-01', notes: 'a', monthlyRate: 10 });
    expect(w.modifiedBy).toBe('ann');
    expect(w.changeReason).toBe('last');
    expect(w.userIds).toEqual(['ann', 'bob']);
    expect(w.baseVersion).toBe(5);
    expect(w.modificationIds).toHaveLength(3);
    expect(w.positions).toHaveLength(3);
    expect(w.traceId).toBe('t1');
    expect(w.operation).toBe('update');
  });

  it('when the last modification has no change reason, then the write has none (the last one decides)', () => {
    expect(fold([item({ changeReason: 'x' }), item({ changeReason: null })]).changeReason).toBeNull();
  });

  it('when a field is set to null later, then null wins (an explicit clear is a change)', () => {
    expect(fold([item({ delta: { notes: 'a' } }), item({ delta: { notes: null } })]).changes).toEqual({ notes: null });
  });

  it('when folding, then the input deltas are not mutated', () => {
    const a = item({ delta: { notes: 'a' } });
    fold([a, item({ delta: { notes: 'b' } })]);
    expect(a.modification.delta).toEqual({ notes: 'a' });
  });

  it('when asked to fold a delete with an update, then it throws a TypeError (a bug, never a merge)', () => {
    expect(() => fold([item(), item({ operation: 'delete' })])).toThrow(TypeError);
  });

  it('when asked to fold modifications of different PFAs or nothing, then it throws a TypeError', () => {
    expect(() => fold([item({ pfaId: 'A' }), item({ pfaId: 'B' })])).toThrow(TypeError);
    expect(() => fold([])).toThrow(TypeError);
  });

  it('when update, update, delete, update are coalesced, then three writes come out in order with the delete alone', () => {
    const ws = coalesce([
      item({ delta: { notes: 'a' } }),
      item({ delta: { notes: 'b' } }),
      item({ operation: 'delete', userId: 'boss', baseVersion: 9 }),
      item({ delta: { notes: 'c' } }),
    ]);
    expect(ws.map((w) => w.operation)).toEqual(['update', 'delete', 'update']);
    expect(ws[0]!.changes).toEqual({ notes: 'b' });
    expect(ws[1]!.modifiedBy).toBe('boss');
    expect(ws[1]!.baseVersion).toBe(9);
    expect(ws[2]!.changes).toEqual({ notes: 'c' });
  });
});
