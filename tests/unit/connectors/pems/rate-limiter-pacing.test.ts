import { InProcessRateLimiter } from '../../../../connectors/pems/rate-limiter';

const windowMs = 400;

function limiter(pacing: 'off' | 'linear' | 'quadratic', headroom = 1): InProcessRateLimiter {
  return new InProcessRateLimiter({ credentialId: 'p', limit: 5, windowMs, safetyMarginMs: 0, pacing, headroom });
}

async function takeTimes(l: InProcessRateLimiter, n: number): Promise<number[]> {
  const start = performance.now();
  const at: number[] = [];
  for (let i = 0; i < n; i++) {
    await l.acquireSlot({ paced: true });
    at.push(performance.now() - start);
  }
  return at;
}

describe('the rate limiter paces batch requests', () => {
  it('when pacing is off, then paced requests leave in a burst until the ceiling', async () => {
    const at = await takeTimes(limiter('off'), 4);
    expect(at[3]!).toBeLessThan(60); // linear would take 0 + 25 + 50 + 75 ms
  });

  it('when pacing is linear, then each paced request leaves at least the gap for the tokens in use after the previous one', async () => {
    // ceiling 4 (limit 5, headroom 1), even gap window/4 = 100 ms: gaps 0, 25, 50, 75 ms
    const at = await takeTimes(limiter('linear'), 4);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(24);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(49);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(74);
  });

  it('when the paced ceiling is reached, then a paced request waits for a token while an unpaced one takes the headroom at once', async () => {
    const l = limiter('off', 1);
    for (let i = 0; i < 4; i++) await l.acquireSlot({ paced: true });
    const unpaced = await l.acquireSlot();
    expect(unpaced.waitedMs).toBe(0);
    const started = performance.now();
    await l.acquireSlot({ paced: true });
    expect(performance.now() - started).toBeGreaterThanOrEqual(windowMs - 20);
  });

  it('when a token is cancelled (its request never sent), then it is back at once; a released one is not', async () => {
    const l = limiter('off', 0);
    const slots = [];
    for (let i = 0; i < 5; i++) slots.push(await l.acquireSlot({ paced: true }));
    await slots[0]!.cancel();
    const next = await l.acquireSlot({ paced: true });
    expect(next.waitedMs).toBe(0);
    await slots[1]!.release();
    const started = performance.now();
    await l.acquireSlot({ paced: true });
    expect(performance.now() - started).toBeGreaterThanOrEqual(windowMs - 50);
  });
});
