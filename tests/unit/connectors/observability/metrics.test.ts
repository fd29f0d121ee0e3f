import { Counter, Registry } from 'prom-client';
import { createSinkMetrics } from '../../../../connectors/observability/metrics';

const SINK_NAMES = [
  'pems_sync_modifications_total',
  'pems_sync_failures_total',
  'pems_sync_conflicts_total',
  'pems_sync_dead_letters_total',
  'pems_sync_commit_to_pems_seconds',
  'pems_sync_batch_size',
  'pems_sync_pems_requests_total',
  'pems_sync_pems_request_seconds',
  'pems_sync_rate_limiter_wait_seconds',
  'pems_sync_consumer_lag',
  'pems_sync_pems_reachable',
  'pems_sync_pems_organization_reachable',
  'pems_sync_consumer_lag_seconds',
  'pems_sync_in_flight_groups',
  'pems_sync_claims_waiting',
  'pems_sync_claims_taken_over_total',
  'pems_sync_claims_not_visible_total',
  'pems_sync_outbox_held_records',
];

async function names(registry: Registry): Promise<string[]> {
  return (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
}

describe('createSinkMetrics', () => {
  it('when created, then every sink metric is registered under its conventional name', async () => {
    const registry = new Registry();
    createSinkMetrics(registry);
    expect(await names(registry)).toEqual([...SINK_NAMES].sort());
  });

  it('when called twice on the same registry, then it returns the same metric objects and does not throw', () => {
    const registry = new Registry();
    const a = createSinkMetrics(registry);
    const b = createSinkMetrics(registry);
    for (const key of Object.keys(a) as Array<keyof typeof a>) expect(b[key]).toBe(a[key]);
  });

  it('when called on two registries, then the metrics are independent', async () => {
    const r1 = new Registry();
    const r2 = new Registry();
    createSinkMetrics(r1).conflicts.inc();
    createSinkMetrics(r2);
    expect(await r1.getSingleMetricAsString('pems_sync_conflicts_total')).toContain('pems_sync_conflicts_total 1');
    expect(await r2.getSingleMetricAsString('pems_sync_conflicts_total')).toContain('pems_sync_conflicts_total 0');
  });

  it('when counters, histograms and gauges are updated, then the values show in the exposition', async () => {
    const registry = new Registry();
    const m = createSinkMetrics(registry);
    m.modifications.inc({ outcome: 'applied' }, 3);
    m.failures.inc({ reason: 'transient' });
    m.deadLetters.inc({ reason: 'unrecoverable' });
    m.commitToPems.observe(0.2);
    m.batchSize.observe(42);
    m.pemsRequests.inc({ endpoint: 'pfa_batch', status: '200' });
    m.pemsRequestSeconds.observe({ endpoint: 'pfa_batch' }, 0.03);
    m.rateLimiterWait.observe(0.004);
    m.consumerLag.set({ topic: 'cdc', partition: '2' }, 17);
    m.pemsReachable.set(1);
    m.inFlightGroups.inc(2);

    expect(await registry.getSingleMetricAsString('pems_sync_modifications_total')).toContain(
      'pems_sync_modifications_total{outcome="applied"} 3',
    );
    expect(await registry.getSingleMetricAsString('pems_sync_failures_total')).toContain(
      'pems_sync_failures_total{reason="transient"} 1',
    );
    expect(await registry.getSingleMetricAsString('pems_sync_dead_letters_total')).toContain(
      '{reason="unrecoverable"} 1',
    );
    const commit = await registry.getSingleMetricAsString('pems_sync_commit_to_pems_seconds');
    expect(commit).toContain('# TYPE pems_sync_commit_to_pems_seconds histogram');
    expect(commit).toContain('pems_sync_commit_to_pems_seconds_bucket{le="0.05"} 0');
    expect(commit).toContain('pems_sync_commit_to_pems_seconds_bucket{le="0.25"} 1');
    expect(commit).toContain('pems_sync_commit_to_pems_seconds_bucket{le="300"} 1');
    const batch = await registry.getSingleMetricAsString('pems_sync_batch_size');
    expect(batch).toContain('pems_sync_batch_size_bucket{le="1"} 0');
    expect(batch).toContain('pems_sync_batch_size_bucket{le="50"} 1');
    expect(batch).toContain('pems_sync_batch_size_bucket{le="1000"} 1');
    expect(batch).toContain('pems_sync_batch_size_sum 42');
    expect(await registry.getSingleMetricAsString('pems_sync_pems_requests_total')).toContain(
      '{endpoint="pfa_batch",status="200"} 1',
    );
    expect(await registry.getSingleMetricAsString('pems_sync_pems_request_seconds')).toContain(
      'pems_sync_pems_request_seconds_count{endpoint="pfa_batch"} 1',
    );
    expect(await registry.getSingleMetricAsString('pems_sync_rate_limiter_wait_seconds')).toContain(
      'pems_sync_rate_limiter_wait_seconds_count 1',
    );
    expect(await registry.getSingleMetricAsString('pems_sync_consumer_lag')).toContain(
      'pems_sync_consumer_lag{topic="cdc",partition="2"} 17',
    );
    expect(await registry.getSingleMetricAsString('pems_sync_pems_reachable')).toContain('pems_sync_pems_reachable 1');
    expect(await registry.getSingleMetricAsString('pems_sync_in_flight_groups')).toContain(
      'pems_sync_in_flight_groups 2',
    );
  });

  it('when a second call follows updates, then the counts are kept (not reset)', async () => {
    const registry = new Registry();
    createSinkMetrics(registry).modifications.inc({ outcome: 'applied' });
    createSinkMetrics(registry).modifications.inc({ outcome: 'applied' });
    expect(await registry.getSingleMetricAsString('pems_sync_modifications_total')).toContain('{outcome="applied"} 2');
  });

  it('when a metric of the same name but another type is registered, then creation throws naming it', () => {
    const registry = new Registry();
    new Counter({ name: 'pems_sync_consumer_lag', help: 'wrong type', registers: [registry] });
    expect(() => createSinkMetrics(registry)).toThrow(/pems_sync_consumer_lag/);
  });

  it('when a label outside the declared ones is used, then prom-client refuses it', () => {
    const m = createSinkMetrics(new Registry());
    expect(() => m.modifications.inc({ reason: 'x' } as unknown as { outcome: string })).toThrow();
  });
});
