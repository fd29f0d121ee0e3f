import {
  chunk,
  coalesce,
  committableOffset,
  fold,
  groupByPfa,
  pfaKey,
  planBatch,
  segment,
  toPemsBatches,
  WorkItem,
} from '../../../streams/grouping';
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

describe('groupByPfa', () => {
  it('when items of several PFAs interleave, then each group keeps its own order and groups follow first appearance', () => {
    const a1 = item({ pfaId: 'A', offset: '1' });
    const b1 = item({ pfaId: 'B', offset: '2' });
    const a2 = item({ pfaId: 'A', offset: '3' });
    const g = groupByPfa([a1, b1, a2]);
    expect([...g.keys()]).toEqual([pfaKey('RIO', 'A'), pfaKey('RIO', 'B')]);
    expect(g.get(pfaKey('RIO', 'A'))).toEqual([a1, a2]);
  });

  it('when items arrive out of offset order, then the group is sorted by offset numerically (not as text)', () => {
    const late = item({ offset: '10' });
    const early = item({ offset: '9' });
    expect(groupByPfa([late, early]).get(pfaKey('RIO', 'PFA-1'))).toEqual([early, late]);
  });

  it('when offsets exceed Number.MAX_SAFE_INTEGER, then order is still exact', () => {
    const b = item({ offset: '9007199254740993' });
    const a = item({ offset: '9007199254740992' });
    expect(groupByPfa([b, a]).get(pfaKey('RIO', 'PFA-1'))).toEqual([a, b]);
  });

  it('when the same pfaId exists in two organizations, then they are separate groups', () => {
    expect(groupByPfa([item({ organizationId: 'RIO' }), item({ organizationId: 'BHP' })]).size).toBe(2);
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
  it('when several updates are folded, then later values win per field and earlier untouched fields remain', () => {
    const w = fold([
      item({ delta: { forecastEnd: '2026-07-01', notes: 'a' }, userId: 'ann', baseVersion: 7, changeReason: 'first', traceId: 't1' }),
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

describe('chunk', () => {
  it('when 250 items are chunked by the default, then chunks are 100, 100, 50 in order', () => {
    const xs = Array.from({ length: 250 }, (_, i) => i);
    const cs = chunk(xs);
    expect(cs.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(cs.flat()).toEqual(xs);
  });

  it('when exactly 100 items or none, then one chunk or none', () => {
    expect(chunk(Array.from({ length: 100 }, () => 0))).toHaveLength(1);
    expect(chunk([])).toEqual([]);
  });

  it('when the size is not a positive integer, then it throws RangeError', () => {
    expect(() => chunk([1], 0)).toThrow(RangeError);
    expect(() => chunk([1], 1.5)).toThrow(RangeError);
  });
});

describe('toPemsBatches', () => {
  it('when writes span organizations and include deletes, then batches are per organization, cut at the limit, deletes apart', () => {
    const writes = [
      ...Array.from({ length: 3 }, (_, i) => fold([item({ pfaId: `R${i}`, organizationId: 'RIO' })])),
      fold([item({ organizationId: 'BHP' })]),
      fold([item({ operation: 'delete' })]),
    ];
    const { batches, deletes } = toPemsBatches(writes, 2);
    expect(batches.map((b) => [b.organizationId, b.writes.length])).toEqual([
      ['RIO', 2],
      ['RIO', 1],
      ['BHP', 1],
    ]);
    expect(deletes).toHaveLength(1);
  });
});

describe('planBatch', () => {
  it('when PFA A has three runs and B one, then round 0 has both, rounds 1 and 2 only A', () => {
    const plan = planBatch([
      item({ pfaId: 'A', delta: { notes: '1' } }),
      item({ pfaId: 'B', delta: { notes: 'b' } }),
      item({ pfaId: 'A', operation: 'delete' }),
      item({ pfaId: 'A', delta: { notes: '2' } }),
    ]);
    expect(plan.pfas.map((p) => [p.pfaId, p.writes.length])).toEqual([
      ['A', 3],
      ['B', 1],
    ]);
    expect(plan.rounds.map((r) => r.map((w) => `${w.pfaId}:${w.operation}`))).toEqual([
      ['A:update', 'B:update'],
      ['A:delete'],
      ['A:update'],
    ]);
  });

  it('when the batch is empty, then the plan is empty', () => {
    expect(planBatch([])).toEqual({ pfas: [], rounds: [] });
  });
});

describe('committableOffset', () => {
  it('when a middle offset is not done, then only the prefix before it is committable (offset + 1)', () => {
    expect(committableOffset(['5', '6', '7'], new Set(['5', '7']))).toBe('6');
  });

  it('when all are done, then the commit is one past the last', () => {
    expect(committableOffset(['7', '5', '6'], new Set(['5', '6', '7']))).toBe('8');
  });

  it('when the first is not done, then nothing is committable', () => {
    expect(committableOffset(['5', '6'], new Set(['6']))).toBeNull();
  });

  it('when offsets are beyond 2^53, then the result is exact', () => {
    expect(committableOffset(['9007199254740993'], new Set(['9007199254740993']))).toBe('9007199254740994');
  });
});
