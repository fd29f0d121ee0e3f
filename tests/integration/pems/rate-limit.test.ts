import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { credentialId, InProcessRateLimiter, RedisRateLimiter, type PemsClient } from '../../../connectors/pems';
import type { PemsSimulator } from '../../../connectors/pems-simulator';
import { clientFor, failure, org, REDIS_URL, simulator, type Org } from './harness';

describe('the shared rate limit against the simulator (10 req/s per credential)', () => {
  const o: Org = org('rl');
  let sim: PemsSimulator;
  let redis: Redis;
  const prefix = `test:${randomUUID()}:`;
  let ids: string[];

  beforeAll(async () => {
    sim = await simulator([o], { rateLimitPerSecond: 10 });
    ids = sim.control.seed({ count: 5 });
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await sim.close();
  });

  beforeEach(() => sim.control.reset());

  it('when three clients with their own Redis-backed limiters hammer one credential, then PEMS never sees more than 10 in a second and answers no 429', async () => {
    ids = sim.control.seed({ count: 5 });
    const cid = credentialId(o.tenant, o.organization, o.apiKey);
    // Three connector instances: each its own Redis connection and limiter, one shared ledger.
    const limiters = [1, 2, 3].map(
      () => new RedisRateLimiter({ credentialId: cid, redis: REDIS_URL, keyPrefix: prefix }),
    );
    const clients: PemsClient[] = limiters.map((l) => clientFor(sim, o, { rateLimiter: l }));
    try {
      const perClient = 12;
      const calls = clients.flatMap((c) =>
        Array.from({ length: perClient }, (_, i) => c.getRecord(ids[i % ids.length] ?? '')),
      );
      const results = await Promise.allSettled(calls);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const stats = sim.control.stats();
      expect(stats.requests['GET /pfa/{id}']).toEqual({ '200': 3 * perClient });
      expect(stats.rateLimited).toBe(0);
      expect(stats.maxRequestsPerSecond[o.organization]).toBeLessThanOrEqual(10);
      // The limit was really exercised: the budget was exhausted and callers had to wait.
      expect(stats.maxRequestsPerSecond[o.organization]).toBeGreaterThanOrEqual(9);
      expect(limiters.reduce((n, l) => n + l.metrics.waited, 0)).toBeGreaterThan(0);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await Promise.all(limiters.map((l) => l.close()));
    }
  });

  it('when clients do not share a limiter, then PEMS answers 429 with Retry-After and the client maps it to RATE_LIMITED and reports it', async () => {
    ids = sim.control.seed({ count: 1 });
    const limiter = new InProcessRateLimiter({ credentialId: 'unshared', limit: 1000 });
    const c = clientFor(sim, o, { rateLimiter: limiter });
    try {
      // 40 at once through 10 sockets: PEMS's bucket (burst 10, 10/s) refills while they go, more
      // so on a busy machine, so ask well past the burst (15 gave only 4 refusals under CI's load).
      const results = await Promise.allSettled(Array.from({ length: 40 }, () => c.getRecord(ids[0] ?? '')));
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected.length).toBeGreaterThanOrEqual(5);
      for (const r of rejected) {
        expect(r.reason).toMatchObject({ code: 'PEMS_SYNC_PEMS_RATE_LIMITED', retriable: true });
        expect(r.reason.details.retryAfterMs).toBeGreaterThanOrEqual(1000);
      }
      expect(limiter.metrics.retryAfterReports).toBe(rejected.length);
      expect(sim.control.stats().requests['GET /pfa/{id}']?.['429']).toBe(rejected.length);
    } finally {
      await c.close();
    }
  });

  it('when one instance reports a Retry-After, then another instance sharing Redis waits before its next request', async () => {
    const cid = `shared-${randomUUID()}`;
    const a = new RedisRateLimiter({ credentialId: cid, redis: REDIS_URL, keyPrefix: prefix });
    const b = new RedisRateLimiter({ credentialId: cid, redis: REDIS_URL, keyPrefix: prefix });
    try {
      await a.reportRetryAfter(200);
      expect(await b.acquire()).toBeGreaterThan(0);
      expect(b.metrics.waited).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('when the Redis ledger is inspected, then its key holds a hash of the credential, never the api key', async () => {
    const cid = credentialId(o.tenant, o.organization, o.apiKey);
    const l = new RedisRateLimiter({ credentialId: cid, redis: REDIS_URL, keyPrefix: prefix });
    try {
      await l.acquire();
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.some((k) => k.includes(cid))).toBe(true);
      expect(keys.every((k) => !k.includes(o.apiKey))).toBe(true);
    } finally {
      await l.close();
    }
  });

  it('when Redis is unreachable, then acquire fails with a retriable limiter error instead of sending unthrottled', async () => {
    const l = new RedisRateLimiter({ credentialId: 'x', redis: 'redis://127.0.0.1:1', keyPrefix: prefix });
    try {
      const e = await failure(l.acquire());
      expect(e).toMatchObject({ code: 'PEMS_SYNC_RATE_LIMITER_UNAVAILABLE', retriable: true });
    } finally {
      await l.close();
    }
  });
});
