import { intentsOf, leadingCovered } from '../../../../connectors/sink/resume';
import type { LaneItem, WriteIntent } from '../../../../connectors/sink/work';

function item(id: string, offset: number): LaneItem {
  const position = { topic: 't', partition: 0, offset: String(offset) };
  return {
    modification: {
      id,
      organizationId: 'O',
      pfaId: 'P',
      userId: 'u',
      operation: 'update',
      delta: { notes: id },
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

const intent = (key: string, ids: string[]): WriteIntent => ({
  key,
  modificationIds: ids,
  item: { pfaId: 'P', changes: {}, version: 3, modifiedBy: 'u', idempotencyKey: key } as never,
});

describe('resuming write-ahead intents (which edits of a write an intent covers)', () => {
  const [a, b, c, d] = [item('a', 1), item('b', 2), item('c', 3), item('d', 4)];

  it('when the intent is exactly the write, then every edit is covered', () => {
    expect(leadingCovered([a, b], intent('k', ['a', 'b']))).toEqual([a, b]);
  });

  it("when new edits were folded after the intent's edits, then only the intent's leading edits are covered (the rest is a write of its own)", () => {
    expect(leadingCovered([a, b, c], intent('k', ['a']))).toEqual([a]);
    expect(leadingCovered([a, b, c, d], intent('k', ['a', 'b']))).toEqual([a, b]);
  });

  it('when the write holds only the first part of the intent (the rest comes later), then that part is covered', () => {
    expect(leadingCovered([a], intent('k', ['a', 'b', 'c']))).toEqual([a]);
    expect(leadingCovered([b, d], intent('k', ['a', 'b', 'c']))).toEqual([b]);
  });

  it('when the intent does not lead the write, or an edit outside it comes between its edits, then nothing is covered', () => {
    expect(leadingCovered([a, b], intent('k', ['b']))).toEqual([]);
    expect(leadingCovered([a, b, c], intent('k', ['a', 'c']))).toEqual([]);
    expect(leadingCovered([a], intent('k', ['z']))).toEqual([]);
  });

  it('intentsOf: each intent once, in the order loaded', () => {
    const i1 = intent('k1', ['a', 'b']);
    const i2 = intent('k2', ['b']);
    expect(intentsOf([[i1], [i1, i2], []]).map((i) => i.key)).toEqual(['k1', 'k2']);
  });
});
