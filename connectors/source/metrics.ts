/**
 * Read-side metrics on an injected prom-client registry, created idempotently (a second call
 * with the same registry returns the same collectors), named by the Prometheus conventions.
 * Local to the read side until connectors/observability offers createSourceMetrics.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface SourceMetrics {
  /** PEMS records received from GET /pfa, by organization. */
  recordsFetched: Counter<'organization'>;
  /** GET /pfa pages produced to the raw topic, by organization. */
  pages: Counter<'organization'>;
  /**
   * Failures, by organization (or '' when none applies) and stage (poll, produce, cursor, decode,
   * validate, mirror_write, and mirror_consumer: a consumer kafkajs would not restart, replaced).
   */
  failures: Counter<'organization' | 'stage'>;
  /**
   * Raw records applied by the mirror stream, by outcome (insert, update, ignore_older,
   * ignore_duplicate, dead_letter).
   */
  mirrorRecords: Counter<'outcome'>;
  /** Early conflict warnings raised. */
  earlyWarnings: Counter<'organization'>;
  /** Records the running full load has produced, by organization. */
  fullLoadRecords: Gauge<'organization'>;
  /** Note the newest PEMS updatedAt seen for an organization (feeds the lag gauge). */
  observeUpdatedAt(organization: string, updatedAt: string): void;
}

const created = new WeakMap<Registry, SourceMetrics>();

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}

export function createSourceMetrics(registry: Registry): SourceMetrics {
  const cached = created.get(registry);
  if (cached) return cached;
  const newest = new Map<string, number>();
  const lagName = 'pems_sync_source_lag_seconds';
  if (!registry.getSingleMetric(lagName)) {
    new Gauge<'organization'>({
      name: lagName,
      help: 'now minus the newest PEMS updatedAt the poller has seen, per organization, seconds (grows while PEMS is quiet)',
      labelNames: ['organization'],
      registers: [registry],
      // Computed at scrape time, so it is current even between polls.
      collect(this: Gauge<'organization'>) {
        const now = Date.now();
        for (const [organization, ms] of newest) this.set({ organization }, Math.max(0, (now - ms) / 1000));
      },
    });
  }
  const fullLoadName = 'pems_sync_source_full_load_records';
  const metrics: SourceMetrics = {
    recordsFetched: counter(registry, 'pems_sync_source_records_fetched_total', 'PEMS records received from GET /pfa', [
      'organization',
    ]),
    pages: counter(registry, 'pems_sync_source_pages_total', 'GET /pfa pages produced to the raw topic', [
      'organization',
    ]),
    failures: counter(registry, 'pems_sync_source_failures_total', 'read-side failures by stage', [
      'organization',
      'stage',
    ]),
    mirrorRecords: counter(
      registry,
      'pems_sync_mirror_records_total',
      'raw records handled by the mirror stream, by outcome',
      ['outcome'],
    ),
    earlyWarnings: counter(registry, 'pems_sync_mirror_early_warnings_total', 'early conflict warnings raised', [
      'organization',
    ]),
    fullLoadRecords:
      (registry.getSingleMetric(fullLoadName) as Gauge<'organization'> | undefined) ??
      new Gauge<'organization'>({
        name: fullLoadName,
        help: "records produced so far by the organization's full load",
        labelNames: ['organization'],
        registers: [registry],
      }),
    observeUpdatedAt(organization, updatedAt) {
      const ms = Date.parse(updatedAt);
      if (Number.isNaN(ms)) return;
      if (ms > (newest.get(organization) ?? -Infinity)) newest.set(organization, ms);
    },
  };
  created.set(registry, metrics);
  return metrics;
}
