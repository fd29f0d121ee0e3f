import { InProcessRateLimiter, credentialId } from '../../../../connectors/pems/rate-limiter';
import { Registry } from 'prom-client';

describe('InProcessRateLimiter', () => {
  it('when more than the limit is asked for, then the extra acquisition waits and is reported', async () => {
    const waits: number[] = [];
    const registry = new Registry();
    const limiter = new InProcessRateLimiter({
      credentialId: 'c1',
      limit: 3,
      windowMs: 60,
      safetyMarginMs: 0,
      onWait: (ms) => waits.push(ms),
      registry,
    });
    const results = await Promise.all([1, 2, 3, 4].map(() => limiter.acquire()));
    expect(results.filter((w) => w === 0)).toHaveLength(3);
    expect(waits).toHaveLength(1);
    expect(limiter.metrics).toMatchObject({ acquired: 4, waited: 1 });
    const text = await registry.metrics();
    expect(text).toContain('pems_sync_pems_rate_limit_wait_seconds_count');
    await limiter.close();
  });

  it('when two limiters share a registry, then the metrics are created once', () => {
    const registry = new Registry();
    new InProcessRateLimiter({ credentialId: 'a', registry });
    expect(() => new InProcessRateLimiter({ credentialId: 'b', registry })).not.toThrow();
  });

  it('when a Retry-After is reported, then the next acquisition waits', async () => {
    const limiter = new InProcessRateLimiter({ credentialId: 'c2', limit: 10 });
    await limiter.reportRetryAfter(30);
    expect(await limiter.acquire()).toBeGreaterThan(0);
    expect(limiter.metrics.retryAfterReports).toBe(1);
  });
});

describe('credentialId', () => {
  it('when derived, then it is stable, distinct per credential and does not contain the key', () => {
    const a = credentialId('T', 'RIO', 'super-secret-key');
    expect(a).toBe(credentialId('T', 'RIO', 'super-secret-key'));
    expect(a).not.toBe(credentialId('T', 'BEO', 'super-secret-key'));
    expect(a).not.toContain('super-secret');
  });
});
