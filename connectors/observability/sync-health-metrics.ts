/**
 * Per-organization gauges computed from Postgres at scrape time, for the alert rules
 * (deploy/helm/pems-sync/files/pems-sync.rules.yml) and the dashboard: freshness (age of the
 * oldest unsynced edit), modifications by status, the newest outcome, open conflicts and dead
 * letters, and whether the organization's audit chain verifies. Served by the control API's
 * ops port. A failing query keeps the last figures and sets pems_sync_status_collector_ok 0,
 * so /metrics keeps answering (the target stays up and the other figures stay visible).
 */
import { Gauge, type Registry } from 'prom-client';
import type { Knex } from 'knex';
import { verifyAuditChain } from '../postgres/audit-query';
import { readOpenConflicts, readOpenDeadLetters, readOrganizations, readStatusCounts } from '../postgres/sync-health';
import { foldSyncFigures } from '../../streams/sync-health';

export interface SyncHealthOptions {
  db: Knex;
  /** How often changed audit chains are re-verified, ms (default 60 s). Unchanged chains are not re-read. */
  auditIntervalMs?: number;
  /** Figures read within this many ms are reused by a concurrent scrape (default 1 s). */
  maxAgeMs?: number;
  onError?: (err: unknown) => void;
  /**
   * pems.rateLimitPerSecond, exposed as pems_sync_pems_rate_limit_per_second (the dashboard's
   * "requests/s against the limit").
   */
  rateLimitPerSecond?: number;
}

export interface SyncHealthMetrics {
  /** Reads the figures now (a scrape does this by itself). */
  refresh(): Promise<void>;
  /** Verifies the audit chains that changed since their last check. */
  verifyAuditChains(): Promise<void>;
  stop(): void;
}

const ORG = ['organization'] as const;
/** Every chain is re-verified every FULL_EVERY audit rounds (10 min with the default interval). */
const FULL_EVERY = 10;

export function createSyncHealthMetrics(registry: Registry, opts: SyncHealthOptions): SyncHealthMetrics {
  let last: { at: number; done: Promise<void> } | undefined;
  const refresh = (): Promise<void> => {
    const now = Date.now();
    if (last && now - last.at < (opts.maxAgeMs ?? 1000)) return last.done;
    last = { at: now, done: read() };
    return last.done;
  };
  // Every gauge waits for the one shared read, so a scrape sees one consistent set of figures.
  const g = <L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> =>
    new Gauge<L>({ name, help, labelNames, registers: [registry], collect: refresh });

  const syncEnabled = g(
    'pems_sync_organization_sync_enabled',
    '1 when the organization has opted in to write-back',
    ORG,
  );
  const byStatus = g('pems_sync_organization_modifications', 'Modifications of the organization, by sync_status', [
    'organization',
    'status',
  ]);
  const unsynced = g('pems_sync_unsynced_edits', 'Committed edits without an outcome yet (committed or syncing)', ORG);
  const oldestUnsynced = g(
    'pems_sync_oldest_unsynced_edit_age_seconds',
    'Age of the oldest committed edit without an outcome, seconds (0: none waits)',
    ORG,
  );
  const lastOutcome = g(
    'pems_sync_last_outcome_timestamp_seconds',
    "When the newest outcome of one of the organization's edits was recorded, Unix seconds",
    ORG,
  );
  const openConflicts = g('pems_sync_open_conflicts', 'Conflicts waiting for a person', ORG);
  const oldestConflict = g(
    'pems_sync_oldest_open_conflict_age_seconds',
    'Age of the oldest open conflict, seconds (0: none open)',
    ORG,
  );
  const openDeadLetters = g('pems_sync_open_dead_letters', 'Dead letters neither replayed nor discarded', ORG);
  const auditOk = new Gauge<'organization'>({
    name: 'pems_sync_audit_chain_ok',
    help: "1 while the organization's audit chain verifies, 0 when an entry was altered or removed",
    labelNames: ORG,
    registers: [registry],
  });
  if (opts.rateLimitPerSecond !== undefined) {
    new Gauge({
      name: 'pems_sync_pems_rate_limit_per_second',
      help: 'The configured PEMS request budget per second and credential (pems.rateLimitPerSecond; 0: unlimited)',
      registers: [registry],
    }).set(opts.rateLimitPerSecond);
  }
  const collectorOk = new Gauge({
    name: 'pems_sync_status_collector_ok',
    help: '1 when the last read of the per-organization figures from Postgres succeeded',
    registers: [registry],
    collect: refresh,
  });

  async function read(): Promise<void> {
    try {
      const [orgs, counts, conflicts, deadLetters] = await Promise.all([
        readOrganizations(opts.db),
        readStatusCounts(opts.db),
        readOpenConflicts(opts.db),
        readOpenDeadLetters(opts.db),
      ]);
      for (const m of [
        syncEnabled,
        byStatus,
        unsynced,
        oldestUnsynced,
        lastOutcome,
        openConflicts,
        oldestConflict,
        openDeadLetters,
      ])
        m.reset();
      const figures = foldSyncFigures(counts);
      for (const o of orgs) {
        const organization = o.organizationId;
        syncEnabled.set({ organization }, o.syncEnabled ? 1 : 0);
        const f = figures.get(organization);
        unsynced.set({ organization }, f?.unsynced ?? 0);
        oldestUnsynced.set({ organization }, f?.oldestUnsyncedAgeSeconds ?? 0);
        if (f?.lastOutcomeUnixSeconds != null) lastOutcome.set({ organization }, f.lastOutcomeUnixSeconds);
        for (const [status, n] of f?.byStatus ?? []) byStatus.set({ organization, status }, n);
        openConflicts.set({ organization }, 0);
        oldestConflict.set({ organization }, 0);
        openDeadLetters.set({ organization }, 0);
      }
      for (const c of conflicts) {
        openConflicts.set({ organization: c.organizationId }, c.count);
        oldestConflict.set({ organization: c.organizationId }, c.oldestAgeSeconds);
      }
      for (const d of deadLetters) openDeadLetters.set({ organization: d.organizationId }, d.count);
      collectorOk.set(1);
    } catch (err) {
      collectorOk.set(0);
      opts.onError?.(err);
    }
  }

  // Audit chains: verified in the background (a chain can be long). A chain whose head moved is
  // checked every round; every chain (an entry altered in place leaves the head as it was) every
  // FULL_EVERY rounds.
  const verifiedHead = new Map<string, string>();
  let verifying: Promise<void> | undefined;
  let round = 0;
  const verifyAuditChains = (): Promise<void> =>
    (verifying ??= (async () => {
      const full = round++ % FULL_EVERY === 0;
      try {
        for (const o of await readOrganizations(opts.db)) {
          if (o.auditHeadId === null || (!full && verifiedHead.get(o.organizationId) === o.auditHeadId)) continue;
          const check = await verifyAuditChain(opts.db, o.organizationId);
          auditOk.set({ organization: o.organizationId }, check.ok ? 1 : 0);
          verifiedHead.set(o.organizationId, o.auditHeadId);
        }
      } catch (err) {
        opts.onError?.(err);
      } finally {
        verifying = undefined;
      }
    })());
  const timer = setInterval(() => void verifyAuditChains(), opts.auditIntervalMs ?? 60_000);
  timer.unref();
  void verifyAuditChains();

  return { refresh, verifyAuditChains, stop: () => clearInterval(timer) };
}
