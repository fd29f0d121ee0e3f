import { Registry } from 'prom-client';
import { laterOf, newestUpdatedAt } from '../../../../connectors/source/poller';
import { createSourceMetrics } from '../../../../connectors/source/metrics';

describe('poller helpers', () => {
  it('when a page has records, then the newest parseable updatedAt is its high water', () => {
    expect(
      newestUpdatedAt([
        { updatedAt: '2026-11-24T10:30:00.000Z' },
        { updatedAt: 'not a date' },
        { updatedAt: '2026-11-24T10:31:00.000Z' },
        null,
        { version: 1 },
      ]),
    ).toBe('2026-11-24T10:31:00.000Z');
    expect(newestUpdatedAt([])).toBeNull();
  });

  it('when the high water is compared, then only a later instant moves it', () => {
    const a = new Date('2026-11-24T10:30:00.000Z');
    expect(laterOf(a, '2026-11-24T10:29:00.000Z')).toBe(a);
    expect(laterOf(a, '2026-11-24T10:31:00.000Z')?.toISOString()).toBe('2026-11-24T10:31:00.000Z');
    expect(laterOf(null, '2026-11-24T10:31:00Z')?.toISOString()).toBe('2026-11-24T10:31:00.000Z');
    expect(laterOf(a, null)).toBe(a);
    expect(laterOf(null, 'garbage')).toBeNull();
  });
});

describe('source metrics', () => {
  it('when created twice on one registry, then the same collectors come back and nothing is registered twice', async () => {
    const registry = new Registry();
    const a = createSourceMetrics(registry);
    const b = createSourceMetrics(registry);
    expect(b).toBe(a);
    a.recordsFetched.inc({ organization: 'RIO' }, 3);
    a.observeUpdatedAt('RIO', new Date(Date.now() - 120_000).toISOString());
    const text = await registry.metrics();
    expect(text).toMatch(/pems_sync_source_records_fetched_total\{organization="RIO"\} 3/);
    const lag = /pems_sync_source_lag_seconds\{organization="RIO"\} ([\d.]+)/.exec(text);
    expect(Number(lag?.[1])).toBeGreaterThanOrEqual(119);
  });
});
