import { splitConflict } from '../../../../connectors/sink/lanes';
import type { LaneItem } from '../../../../connectors/sink/lanes';

function item(id: string, delta: Record<string, unknown>, offset: number): LaneItem {
  const position = { topic: 't', partition: 0, offset: String(offset) };
  return {
    modification: {
      id, organizationId: 'O', pfaId: 'P', userId: 'u', operation: 'update', delta, baseVersion: 3,
      changeReason: null, committedAt: null, syncStatus: 'committed',
    },
    position,
    traceId: null,
    source: { position, key: null, value: null, headers: {} },
  } as unknown as LaneItem;
}

describe('splitConflict (edits folded into one write that conflicts)', () => {
  const a = item('a', { notes: 'n' }, 1);
  const b = item('b', { equipment: 'E', notes: 'm' }, 2);
  const c = item('c', { description: 'd' }, 3);

  it('when some edits touch a conflicting field, then those are the conflict and the rest keep commit order', () => {
    expect(splitConflict([a, b, c], ['equipment'])).toEqual({ conflicted: [b], rest: [a, c] });
    expect(splitConflict([a, b, c], ['notes'])).toEqual({ conflicted: [a, b], rest: [c] });
  });

  it('when every edit or no edit overlaps, or there is one edit, then there is nothing to split', () => {
    expect(splitConflict([a, b], ['notes'])).toBeNull();
    expect(splitConflict([a, c], ['monthlyRate'])).toBeNull();
    expect(splitConflict([b], ['equipment'])).toBeNull();
  });
});
