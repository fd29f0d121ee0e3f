import { invalidEdits, splitConflict } from '../../../streams/folded-write';
import type { LaneItem } from '../../../connectors/sink/work';

function item(id: string, delta: Record<string, unknown>, offset: number): LaneItem {
  const position = { topic: 't', partition: 0, offset: String(offset) };
  return {
    modification: {
      id,
      organizationId: 'O',
      pfaId: 'P',
      userId: 'u',
      operation: 'update',
      delta,
      baseVersion: 3,
      changeReason: null,
      committedAt: null,
      syncStatus: 'committed',
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

describe('invalidEdits (edits folded into one write, each checked against the record it was made on)', () => {
  const record = { pfaId: 'P', forecastStart: '2030-03-01', forecastEnd: '2030-12-01', monthlyRate: 100 } as never;

  it('when one edit ends before its start and a later edit would hide it, then that edit alone is invalid, naming the field', () => {
    const bad = item('bad', { forecastStart: '2030-05-01', forecastEnd: '2030-01-01' }, 1);
    const later = item('later', { forecastEnd: '2031-06-01' }, 2);
    const found = invalidEdits([bad, later], () => record);
    expect(found.map((f) => f.item)).toEqual([bad]);
    expect(found[0]!.errors.map((e) => e.field)).toContain('forecastEnd');
  });

  it('when the record is unknown or every edit is valid, then nothing is invalid', () => {
    expect(
      invalidEdits([item('x', { forecastEnd: '2031-01-01' }, 1), item('y', { notes: 'n' }, 2)], () => record),
    ).toEqual([]);
    expect(invalidEdits([item('bad', { forecastEnd: '2029-01-01' }, 1)], () => null)).toEqual([]);
  });
});
