import {
  claimMiss,
  firstVisibilityWait,
  nextVisibilityWait,
  notVisibleReason,
  visibilityGivenUp,
} from '../../../streams/visibility';

const policy = { firstDelayMs: 10, maxDelayMs: 2000, giveUpAfterMs: 30_000 };

describe('visibility of a modification whose claim took no row', () => {
  it('when the row is missing, still a draft or claimable after all, then it is looked for again, not settled', () => {
    expect(claimMiss(null)).toBe('unseen');
    expect(claimMiss('draft')).toBe('unseen');
    expect(claimMiss('committed')).toBe('unseen');
    expect(claimMiss('queued')).toBe('unseen');
  });

  it('when the row is syncing, then it is held; with an outcome, then settled', () => {
    expect(claimMiss('syncing')).toBe('held');
    for (const s of ['synced', 'conflict', 'failed', 'rejected', 'superseded']) expect(claimMiss(s)).toBe('settled');
  });

  it('when misses repeat, then the wait doubles from 10 ms up to the longest wait and never passes the bound', () => {
    let w = firstVisibilityWait(1000, policy);
    const delays = [w.dueAt - 1000];
    let now = w.dueAt;
    while (!visibilityGivenUp(w, now, policy)) {
      w = nextVisibilityWait(w, now, policy);
      delays.push(w.dueAt - now);
      now = w.dueAt;
    }
    expect(delays.slice(0, 9)).toEqual([10, 20, 40, 80, 160, 320, 640, 1280, 2000]);
    expect(Math.max(...delays)).toBe(2000);
    expect(now).toBe(1000 + 30_000);
    expect(w.misses).toBe(delays.length);
  });

  it('when it gives up, then the reason names the modification and how long it was looked for', () => {
    const w = { firstAt: 0, misses: 12, dueAt: 30_000 };
    expect(notVisibleReason('m-1', w, 30_000)).toMatch(
      /modification m-1: .* 30000 ms \(12 claims\).*not found as committed/,
    );
  });
});
