import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisRateLimiter } from '../../../connectors/pems';
import { REDIS_URL } from './harness';

// Two instances sharing one credential's ledger in Redis: pacing and headroom hold across them.
describe('the shared rate limiter paces batch requests across instances (Redis)', () => {
  let redis: Redis;
  const prefix = `test:${randomUUID()}:`;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  const pair = (credential: string, pacing: 'off' | 'linear'): RedisRateLimiter[] =>
    [0, 1].map(
      () =>
        new RedisRateLimiter({
          credentialId: credential,
          redis,
          keyPrefix: prefix,
          limit: 5,
          windowMs: 400,
          safetyMarginMs: 0,
          pacing,
          headroom: 1,
        }),
    );

  it('when two instances take paced tokens in turn, then every take leaves at least the gap for the tokens in use after the previous one', async () => {
    const [a, b] = pair(randomUUID(), 'linear');
    const started = performance.now();
    const at: number[] = [];
    for (let i = 0; i < 4; i++) {
      await (i % 2 === 0 ? a! : b!).acquireSlot({ paced: true });
      at.push(performance.now() - started);
    }
    // ceiling 4, even gap 100 ms: 0, 25, 50, 75 ms after the previous take (Redis's clock; 2 ms slack)
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(23);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(48);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(73);
  });

  it('when the paced ceiling is reached, then an unpaced request of the other instance still takes the headroom at once, and nothing more is free', async () => {
    const [a, b] = pair(randomUUID(), 'off');
    for (let i = 0; i < 4; i++) await a!.acquireSlot({ paced: true });
    expect((await b!.acquireSlot()).waitedMs).toBe(0);
    const started = performance.now();
    await b!.acquireSlot();
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('when an instance cancels a token it never used, then the other instance gets it at once', async () => {
    const [a, b] = pair(randomUUID(), 'off');
    const slots = [];
    for (let i = 0; i < 4; i++) slots.push(await a!.acquireSlot({ paced: true }));
    await slots[2]!.cancel();
    expect((await b!.acquireSlot({ paced: true })).waitedMs).toBe(0);
  });
});
