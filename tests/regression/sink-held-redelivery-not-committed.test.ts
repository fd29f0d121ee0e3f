/**
 * Regression (found by the rebalance-windows fault scenario, short run: 1 unfinished, 1
 * orphan_write, 1 unrecorded_write on a PFA no window targeted): an edit another live instance
 * was writing waited in this instance, its offset held back. A rebalance kept the partition
 * here, so kafkajs re-read it from the last commit and the same event came again. The waiting
 * entry was replaced by "the later event", and the earlier one's offset marked done: the same
 * offset. The commit then passed the edit; the next rebalance gave the partition to a member
 * that started after it, never saw it, and the edit stayed 'syncing' for good while later edits
 * of its PFA were written (the writer had applied it to PEMS and was killed before recording).
 *
 * Fix (connectors/sink/ledger.ts, sort): an event redelivered at the position it already waits
 * with stays one waiting event; only a genuinely later event of the modification marks the
 * earlier one done. This is the ledger's decision, performed here on the ledger itself with the
 * event sequence of the scenario.
 */
import { OffsetLedger } from '../../connectors/sink/ledger';
import type { LaneItem } from '../../connectors/sink/work';

function event(id: string, offset: number): LaneItem {
  const position = { topic: 'cdc', partition: 2, offset: String(offset) };
  return {
    modification: {
      id,
      organizationId: 'O',
      pfaId: 'P',
      userId: 'u',
      operation: 'update',
      delta: { notes: id },
      baseVersion: 4,
    },
    position,
    traceId: null,
    source: { position, key: null, value: null, headers: {} },
  } as unknown as LaneItem;
}

describe('regression: a held edit redelivered at its own offset keeps its offset uncommitted', () => {
  it('when the event of an edit another instance holds comes again after a rebalance, then the commit stays before it until its outcome is known', () => {
    const ledger = new OffsetLedger();
    ledger.assign(new Set(['cdc:2']));
    for (const o of [10, 11, 12]) ledger.track('cdc', 2, String(o));
    ledger.markOffsetsDone('cdc', 2, ['10']);
    // Edit X (offset 11) is held by the writer; edit Y of the same PFA (offset 12) waits behind it.
    const first = ledger.sort([event('X', 11), event('Y', 12)], new Set(['Y']), new Set(['X']));
    expect(first.released).toEqual(['Y']);
    expect(ledger.committable()).toEqual([{ topic: 'cdc', partition: 2, offset: '11' }]);

    // The rebalance keeps the partition here: kafkajs re-reads from the commit (offset 11).
    ledger.assign(new Set(['cdc:2']));
    for (const o of [11, 12]) ledger.track('cdc', 2, String(o));
    // X is still held by the writer; Y's claim was given back, so it is claimed again here and
    // waits behind X once more.
    const again = ledger.sort([event('X', 11), event('Y', 12)], new Set(['Y']), new Set(['X']));
    expect(again.live).toEqual([]);

    expect(ledger.committable()).toEqual([]);
    expect(ledger.waitingIds().sort()).toEqual(['X', 'Y']);
    // Settled later (the writer's outcome, or taken over here): only then does the commit pass it.
    expect(ledger.takeover({ settled: ['X'], takeable: [], held: ['Y'] })).toEqual([]);
    expect(ledger.committable()).toEqual([{ topic: 'cdc', partition: 2, offset: '12' }]);
  });

  it('when a later event of the held edit arrives (it was committed again), then the earlier event is done and the later one waits', () => {
    const ledger = new OffsetLedger();
    ledger.assign(new Set(['cdc:2']));
    for (const o of [20, 21]) ledger.track('cdc', 2, String(o));
    ledger.sort([event('X', 20)], new Set(), new Set(['X']));
    ledger.sort([event('X', 21)], new Set(), new Set(['X']));
    expect(ledger.committable()).toEqual([{ topic: 'cdc', partition: 2, offset: '21' }]);
    expect(ledger.waitingIds()).toEqual(['X']);
  });
});
