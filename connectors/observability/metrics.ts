/**
 * Prometheus metrics of the sink (write side) and the source/mirror (read side), registered on
 * an injected prom-client Registry. Creation is idempotent: a second call on the same registry
 * returns the metric objects already registered (registry.getSingleMetric first), so a restart
 * of a component inside one process, or two components sharing a registry, never throws
 * "metric already registered". Names follow the Prometheus conventions: a `pems_sync_` prefix,
 * `_total` for counters, base units (`_seconds`) in the name.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

type MetricCtor = typeof Counter | typeof Gauge | typeof Histogram;

/**
 * The metric called `name` on `registry`, created by `create` if absent. A metric of that name
 * but another type is a programming error (two components disagree), so it throws.
 */
function getOrCreate<C extends MetricCtor>(
  registry: Registry,
  name: string,
  ctor: C,
  create: () => InstanceType<C>,
): InstanceType<C> {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) return create();
  if (!(existing instanceof ctor)) {
    throw new Error(
      `metric ${name} is already registered as another type (${existing.constructor.name}, wanted ${ctor.name})`,
    );
  }
  return existing as InstanceType<C>;
}

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return getOrCreate(
    registry,
    name,
    Counter,
    () => new Counter<L>({ name, help, labelNames, registers: [registry] }),
  ) as Counter<L>;
}

function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Gauge<L> {
  return getOrCreate(
    registry,
    name,
    Gauge,
    () => new Gauge<L>({ name, help, labelNames, registers: [registry] }),
  ) as Gauge<L>;
}

function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  buckets: number[],
  labelNames: readonly L[] = [],
): Histogram<L> {
  return getOrCreate(
    registry,
    name,
    Histogram,
    () => new Histogram<L>({ name, help, buckets, labelNames, registers: [registry] }),
  ) as Histogram<L>;
}

/** Seconds from a modification's commit in Vanguard to PEMS accepting it: seconds to minutes. */
export const COMMIT_TO_PEMS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** CDC records per fetched batch. */
export const BATCH_SIZE_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000];
/** One PEMS request; pems.timeoutMs defaults to 30 s. */
export const PEMS_REQUEST_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Waiting for a token of the shared PEMS rate limit (10/s per credential). */
export const RATE_LIMITER_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface SinkMetrics {
  /** Modifications finished, by outcome (applied, conflict, dead_letter, skipped...). */
  modifications: Counter<'outcome'>;
  /** Failed PEMS attempts, by reason (transient, rate_limited, unrecoverable...). */
  failures: Counter<'reason'>;
  /** Modifications refused by PEMS as conflicting (409 / stale version). */
  conflicts: Counter<string>;
  /** Records written to the dead-letter topic, by reason. */
  deadLetters: Counter<'reason'>;
  /** Seconds from the Vanguard commit to PEMS accepting the change. */
  commitToPems: Histogram<string>;
  /** CDC records handled per round. */
  batchSize: Histogram<string>;
  /** PEMS HTTP requests, by endpoint and status (HTTP code, or timeout/network). */
  pemsRequests: Counter<'endpoint' | 'status'>;
  /** PEMS request duration, by endpoint. */
  pemsRequestSeconds: Histogram<'endpoint'>;
  /** Seconds spent waiting for the PEMS rate limiter. */
  rateLimiterWait: Histogram<string>;
  /** Records behind the partition's high watermark. */
  consumerLag: Gauge<'topic' | 'partition'>;
  /** 1 while PEMS answers, 0 while the sink considers it unreachable (outage mode). */
  pemsReachable: Gauge<string>;
  /** The same, per organization (each has its own PEMS base URL): what the PemsUnreachable alert reads. */
  pemsOrganizationReachable: Gauge<'organization'>;
  /**
   * Consumer lag as time: now minus the timestamp of the first record of the partition's latest
   * batch, seconds (0 when caught up).
   */
  consumerLagSeconds: Gauge<'topic' | 'partition'>;
  /** Groups of modifications being sent to PEMS right now. */
  inFlightGroups: Gauge<string>;
  /** Events whose modification another live instance is working on (waited for, not redone). */
  claimsWaiting: Gauge<string>;
  /** Claims taken over from instances that stopped or went silent past the lease. */
  claimsTakenOver: Counter<string>;
  /** Claims that found their modification not visible yet (claimed again after a back-off). */
  claimsNotVisible: Counter<string>;
  /** Outbox records held back because their topic does not exist on the Kafka cluster, by topic (0 once emitted). */
  outboxHeldRecords: Gauge<'topic'>;
}

/** The sink's metrics on `registry`, created once per registry. */
export function createSinkMetrics(registry: Registry): SinkMetrics {
  return {
    modifications: counter(
      registry,
      'pems_sync_modifications_total',
      'Modifications finished by the sink, by outcome',
      ['outcome'],
    ),
    failures: counter(
      registry,
      'pems_sync_failures_total',
      'Failed attempts to apply a modification to PEMS, by reason',
      ['reason'],
    ),
    conflicts: counter(
      registry,
      'pems_sync_conflicts_total',
      'Modifications PEMS refused as conflicting with a newer version',
    ),
    deadLetters: counter(
      registry,
      'pems_sync_dead_letters_total',
      'Records produced to the dead-letter topic, by reason',
      ['reason'],
    ),
    commitToPems: histogram(
      registry,
      'pems_sync_commit_to_pems_seconds',
      'Seconds from the modification commit in PFA Vanguard to PEMS accepting it',
      COMMIT_TO_PEMS_BUCKETS,
    ),
    batchSize: histogram(registry, 'pems_sync_batch_size', 'CDC records handled per round', BATCH_SIZE_BUCKETS),
    pemsRequests: counter(registry, 'pems_sync_pems_requests_total', 'HTTP requests to PEMS, by endpoint and status', [
      'endpoint',
      'status',
    ]),
    pemsRequestSeconds: histogram(
      registry,
      'pems_sync_pems_request_seconds',
      'Duration of HTTP requests to PEMS, by endpoint',
      PEMS_REQUEST_BUCKETS,
      ['endpoint'],
    ),
    rateLimiterWait: histogram(
      registry,
      'pems_sync_rate_limiter_wait_seconds',
      'Seconds waited for the shared PEMS rate limiter',
      RATE_LIMITER_WAIT_BUCKETS,
    ),
    consumerLag: gauge(
      registry,
      'pems_sync_consumer_lag',
      'Records between the committed offset and the high watermark, by topic and partition',
      ['topic', 'partition'],
    ),
    pemsReachable: gauge(
      registry,
      'pems_sync_pems_reachable',
      '1 while PEMS answers, 0 while it is considered unreachable',
    ),
    pemsOrganizationReachable: gauge(
      registry,
      'pems_sync_pems_organization_reachable',
      "1 while the organization's PEMS answers, 0 while the sink considers it unreachable",
      ['organization'],
    ),
    consumerLagSeconds: gauge(
      registry,
      'pems_sync_consumer_lag_seconds',
      "Seconds the partition's latest batch waited in Kafka (now minus its first record's timestamp; 0 when caught up)",
      ['topic', 'partition'],
    ),
    inFlightGroups: gauge(registry, 'pems_sync_in_flight_groups', 'Groups of modifications being sent to PEMS'),
    claimsWaiting: gauge(
      registry,
      'pems_sync_claims_waiting',
      'Events whose modification another live sink instance is working on',
    ),
    claimsTakenOver: counter(
      registry,
      'pems_sync_claims_taken_over_total',
      'Claims taken over from sink instances that stopped or outlived their lease',
    ),
    claimsNotVisible: counter(
      registry,
      'pems_sync_claims_not_visible_total',
      'Claims that found their modification not yet visible as committed (claimed again after a back-off)',
    ),
    outboxHeldRecords: gauge(
      registry,
      'pems_sync_outbox_held_records',
      'Outbox records not emitted because their topic does not exist on the Kafka cluster, by topic (0 once it exists and they are emitted)',
      ['topic'],
    ),
  };
}

/**
 * pems_sync_ready: 1 while the process's readiness check passes, computed at scrape time, so an
 * alert sees "running but not ready" (Prometheus's `up` only says the scrape worked).
 */
export function registerReadinessGauge(registry: Registry, ready: () => boolean): Gauge<string> {
  const name = 'pems_sync_ready';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<string>;
  return new Gauge({
    name,
    help: '1 while the process is ready (its /readyz answers 200), else 0',
    registers: [registry],
    collect(this: Gauge<string>) {
      let ok: boolean;
      try {
        ok = ready();
      } catch {
        ok = false;
      }
      this.set(ok ? 1 : 0);
    },
  });
}

// The read side's metrics live with it, in connectors/source/metrics.ts.
