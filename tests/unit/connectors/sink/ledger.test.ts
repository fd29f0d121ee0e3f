import { OffsetLedger } from '../../../../connectors/sink/ledger';
import type { LaneItem } from '../../../../connectors/sink/work';

function item(id: string, offset: number, pfaId = 'P', partition = 0): LaneItem {
  const position = { topic: 't', partition, offset: String(offset) };
  return {
    modification: { id, organizationId: 'O', pfaId, userId: 'u', operation: 'update', delta: {}, baseVersion: 1 },
    position,
    traceId: null,
    source: { position, key: null, value: null, headers: {} },
  } as unknown as LaneItem;
}

function tracked(...offsets: number[]): OffsetLedger {
  const l = new OffsetLedger();
  l.assign(new Set(['t:0', 't:1']));
  for (const o of offsets) l.track('t', 0, String(o));
  return l;
}

describe('OffsetLedger (offsets, in-flight and waiting events)', () => {
  it('when a later offset is durable before an earlier one, then the commit waits for the earlier one', () => {
    const l = tracked(0, 1, 2);
    l.markDone([item('b', 1).position]);
    expect(l.committable()).toEqual([]);
    l.markOffsetsDone('t', 0, ['0']);
    expect(l.committable()).toEqual([{ topic: 't', partition: 0, offset: '2' }]);
    expect(l.committable()).toEqual([]);
  });

  it('when a modification is redelivered while in work, then its outcome marks the redelivered offset durable too', () => {
    const l = tracked(0, 1);
    const first = item('a', 0);
    const again = item('a', 1);
    const s1 = l.sort([first], new Set(['a']), new Set());
    expect(s1.live).toEqual([first]);
    l.startWorking('a', s1.repeats.get('a')!);
    const s2 = l.sort([again], new Set(['a']), new Set());
    expect(s2.live).toEqual([]);
    l.markDone([first.position], ['a']);
    expect(l.committable()).toEqual([{ topic: 't', partition: 0, offset: '2' }]);
  });

  it('when another instance holds an edit, then it waits, and a later edit of its PFA waits behind it with its claim released', () => {
    const l = tracked(0, 1, 2);
    const held = item('a', 0);
    const later = item('b', 1);
    const otherPfa = item('c', 2, 'Q');
    const s = l.sort([held, later, otherPfa], new Set(['b', 'c']), new Set(['a']));
    expect(s.live).toEqual([otherPfa]);
    expect(s.released).toEqual(['b']);
    expect(l.waitingIds().sort()).toEqual(['a', 'b']);
  });

  it('when events of claims with an outcome arrive (redelivery), then they are durable at once', () => {
    const l = tracked(0);
    expect(l.sort([item('a', 0)], new Set(), new Set()).live).toEqual([]);
    expect(l.committable()).toEqual([{ topic: 't', partition: 0, offset: '1' }]);
  });

  it('takeover: settled events are durable; takeable ones are taken in order, except behind an earlier edit still held', () => {
    const l = tracked(0, 1, 2, 3);
    const [a, b, c, d] = [item('a', 0), item('b', 1), item('c', 2, 'Q'), item('d', 3, 'R')];
    l.sort([a, b, c, d], new Set(), new Set(['a', 'b', 'c', 'd']));
    const take = l.takeover({ settled: ['d'], takeable: ['c', 'b'], held: ['a'] });
    expect(take).toEqual([c]); // b waits behind a (same PFA, earlier, still held)
    expect(l.waitingIds().sort()).toEqual(['a', 'b']);
    l.waitAgain(take);
    expect(l.waitingIds().sort()).toEqual(['a', 'b', 'c']);
    l.taken(take);
    // d settled: its offset is durable, but 0..2 are not yet.
    expect(l.committable()).toEqual([]);
  });

  it('when a partition is taken away, then its offsets and waiting events are dropped', () => {
    const l = tracked(0);
    l.sort([item('a', 0)], new Set(), new Set(['a']));
    l.assign(new Set(['t:1']));
    expect(l.waitingIds()).toEqual([]);
    l.markDone([item('a', 0).position]);
    expect(l.committable()).toEqual([]);
    expect(l.assignment()).toEqual(['t:1']);
  });
  describe('events whose modification is not visible yet', () => {
    const policy = { firstDelayMs: 10, maxDelayMs: 40, giveUpAfterMs: 100 };
    function ledger(...offsets: number[]): OffsetLedger {
      const l = new OffsetLedger(policy);
      l.assign(new Set(['t:0']));
      for (const o of offsets) l.track('t', 0, String(o));
      return l;
    }

    it('when a claim finds the row not visible, then its offset is held back and it is claimed again when due', () => {
      const l = ledger(0);
      const a = item('a', 0);
      expect(l.sort([a], new Set(), new Set(), new Set(['a']), 1000).live).toEqual([]);
      expect(l.committable()).toEqual([]);
      expect(l.nextUnseenDue()).toBe(1010);
      expect(l.waitingIds()).toEqual([]); // not judged by the takeover check
      expect(l.dueUnseen(1005)).toEqual({ retry: [], giveUp: [] });
      const due = l.dueUnseen(1010);
      expect(due.retry).toEqual([a]);
      // Claimed now: live, and done only with its outcome.
      const s = l.sort([a], new Set(['a']), new Set(), new Set(), 1011);
      l.taken(due.retry);
      expect(s.live).toEqual([a]);
      expect(l.nextUnseenDue()).toBeNull();
      l.startWorking('a', s.repeats.get('a')!);
      expect(l.committable()).toEqual([]);
      l.markDone([a.position], ['a']);
      expect(l.committable()).toEqual([{ topic: 't', partition: 0, offset: '1' }]);
    });

    it('when it stays not visible, then the waits double and it is given up at the bound, its offset still held', () => {
      const l = ledger(0);
      const a = item('a', 0);
      l.sort([a], new Set(), new Set(), new Set(['a']), 0);
      const dues: number[] = [];
      for (;;) {
        const at = l.nextUnseenDue()!;
        dues.push(at);
        const d = l.dueUnseen(at);
        if (d.giveUp.length > 0) {
          expect(d.giveUp.map((g) => g.item)).toEqual([a]);
          break;
        }
        l.sort(d.retry, new Set(), new Set(), new Set(['a']), at);
        l.taken(d.retry);
      }
      expect(dues).toEqual([10, 30, 70, 100]);
      expect(l.nextUnseenDue()).toBeNull();
      expect(l.committable()).toEqual([]);
      // The dead letter is durable: only then is the offset done.
      l.markDone([a.position]);
      expect(l.committable()).toEqual([{ topic: 't', partition: 0, offset: '1' }]);
    });

    it('when a later edit of its PFA is claimed, then that one waits behind it (claim released) and is not taken over before it', () => {
      const l = ledger(0, 1);
      const a = item('a', 0);
      const b = item('b', 1);
      const s = l.sort([a, b], new Set(['b']), new Set(), new Set(['a']), 0);
      expect(s.live).toEqual([]);
      expect(s.released).toEqual(['b']);
      expect(l.waitingIds()).toEqual(['b']);
      expect(l.takeover({ settled: [], takeable: ['b'], held: [] })).toEqual([]);
      // a is seen and claimed: b may go.
      const d = l.dueUnseen(10);
      l.sort(d.retry, new Set(['a']), new Set(), new Set(), 10);
      l.taken(d.retry);
      expect(l.takeover({ settled: [], takeable: ['b'], held: [] })).toEqual([b]);
    });

    it('when claiming again fails, then it waits again and is due later', () => {
      const l = ledger(0);
      const a = item('a', 0);
      l.sort([a], new Set(), new Set(), new Set(['a']), 0);
      const d = l.dueUnseen(10);
      l.waitAgain(d.retry, 10);
      l.taken(d.retry);
      expect(l.nextUnseenDue()).toBe(30);
      expect(l.committable()).toEqual([]);
    });

    it('when it has an outcome by the time it is claimed again, then its offset is done', () => {
      const l = ledger(0);
      const a = item('a', 0);
      l.sort([a], new Set(), new Set(), new Set(['a']), 0);
      const d = l.dueUnseen(10);
      l.sort(d.retry, new Set(), new Set(), new Set(), 10);
      l.taken(d.retry);
      expect(l.nextUnseenDue()).toBeNull();
      expect(l.committable()).toEqual([{ topic: 't', partition: 0, offset: '1' }]);
    });
  });
});
