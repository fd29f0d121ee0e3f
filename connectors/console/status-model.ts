/**
 * The status screen's figures, computed from real data: Postgres (where the edits are), the
 * PEMS health probe and the sink group's lag (shared with GET /status), and the sinks' own
 * /metrics when console.sinkMetricsUrls lists them. One StatusModel per process: probes and
 * scrapes are cached for a live interval, so many open tabs cost one probe per organization.
 * PEMS up/down transitions are remembered here (the banner's "unreachable since").
 */
import axios from 'axios';
import type { Knex } from 'knex';
import type { Config } from '../../schemas/config';
import { freshnessOf, worstFreshness, type Freshness, type FreshnessResult } from '../../streams/freshness';
import { ratePerSecond, sumSamples, type MetricSums } from '../../streams/prometheus-text';
import type { ConsumerLag, PemsHealth, StatusProbes } from '../control-api/routes/status';
import { readOrgPipelines, type MinuteRow, type OrgPipelineRow } from '../postgres/console-status';
import { LastHourRollup } from './last-hour';

export interface OrgStatus {
  row: OrgPipelineRow;
  freshness: FreshnessResult;
  /** Edits committed or queued, not yet claimed by the sink (CDC + consumer backlog); the oldest one's age. */
  pending: number;
  cdcLagSeconds: number | null;
  /** Claimed by a sink instance (syncing), not yet answered by PEMS. */
  inFlight: number;
  /** Everything not yet in PEMS (committed, queued, syncing). */
  waiting: number;
  pems: PemsHealth;
  pemsDownSince: Date | null;
  pemsRecoveredAt: Date | null;
  /** Outcomes of the last hour. */
  lastHour: { synced: number; conflict: number; rejected: number; failed: number };
}

export interface SinkFigures {
  status: 'ok' | 'unknown';
  reason?: string;
  /** Per second, over the last minute of scrapes. */
  pemsRequestsPerSecond: number | null;
  rateLimitWaitsPerMinute: number | null;
  failedAttemptsPerMinute: number | null;
}

export interface StatusSnapshot {
  at: Date;
  orgs: OrgStatus[];
  overall: Freshness;
  lag: ConsumerLag;
  sink: SinkFigures;
  rateLimitPerSecond: number;
  minutes: MinuteRow[];
}

const RECOVERED_NOTICE_MS = 10 * 60_000;

export class StatusModel {
  private readonly probeCache = new Map<string, { at: number; value: Promise<PemsHealth> }>();
  private lagCache: { at: number; value: Promise<ConsumerLag> } | undefined;
  private readonly pemsState = new Map<string, { down: boolean; since: Date | null; recoveredAt: Date | null }>();
  private scrapes: Array<{ at: number; sums: MetricSums }> = [];
  private scrapeInFlight: Promise<void> | undefined;
  private lastScrapeAt = 0;
  private scrapeError: string | undefined;
  private readonly lastHour: LastHourRollup;
  /** Snapshots shared by the live streams of the same organizations (one read per interval, however many tabs). */
  private readonly shared = new Map<string, { at: number; value: Promise<StatusSnapshot> }>();

  constructor(
    private readonly db: Knex,
    private readonly config: Config,
    private readonly probes: StatusProbes,
  ) {
    this.lastHour = new LastHourRollup(db);
  }

  private get ttlMs(): number {
    return Math.max(250, this.config.console.liveIntervalMs - 100);
  }

  private pemsHealth(orgId: string, baseUrl: string | null, credential: string | null): Promise<PemsHealth> {
    const key = `${orgId} ${baseUrl ?? ''} ${credential ?? ''}`;
    const hit = this.probeCache.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    const value = this.probes
      .pemsHealth({ id: orgId, pems_base_url: baseUrl, pems_credential_encrypted: credential })
      .then((h) => {
        this.remember(orgId, h);
        return h;
      });
    this.probeCache.set(key, { at: Date.now(), value });
    return value;
  }

  private remember(orgId: string, h: PemsHealth): void {
    // Misconfigured is not an outage: the banner and its recovered notice follow reachability only.
    if (h.status === 'misconfigured') return;
    const s = this.pemsState.get(orgId) ?? { down: false, since: null, recoveredAt: null };
    const now = new Date();
    if (h.status === 'down' && !s.down) {
      s.down = true;
      s.since = now;
    } else if (h.status === 'up' && s.down) {
      s.down = false;
      s.since = null;
      s.recoveredAt = now;
    }
    if (s.recoveredAt && now.getTime() - s.recoveredAt.getTime() > RECOVERED_NOTICE_MS) s.recoveredAt = null;
    this.pemsState.set(orgId, s);
  }

  private consumerLag(): Promise<ConsumerLag> {
    if (this.lagCache && Date.now() - this.lagCache.at < this.ttlMs) return this.lagCache.value;
    const value = this.probes.consumerLag();
    this.lagCache = { at: Date.now(), value };
    return value;
  }

  private async scrapeSinks(): Promise<void> {
    const urls = this.config.console.sinkMetricsUrls;
    if (urls.length === 0 || Date.now() - this.lastScrapeAt < this.ttlMs) return;
    this.scrapeInFlight ??= (async () => {
      try {
        const texts = await Promise.all(
          urls.map((u) =>
            axios.get<string>(u, { timeout: 2000, responseType: 'text', maxRedirects: 0 }).then((r) => String(r.data)),
          ),
        );
        const sums: MetricSums = new Map();
        for (const t of texts) for (const [k, v] of sumSamples(t)) sums.set(k, (sums.get(k) ?? 0) + v);
        const now = Date.now();
        this.scrapes.push({ at: now, sums });
        this.scrapes = this.scrapes.filter((s) => now - s.at <= 70_000);
        this.scrapeError = undefined;
      } catch (err) {
        this.scrapeError = `a sink's /metrics did not answer: ${(err as Error).message}`;
      } finally {
        this.lastScrapeAt = Date.now();
        this.scrapeInFlight = undefined;
      }
    })();
    await this.scrapeInFlight;
  }

  private sinkFigures(): SinkFigures {
    const none = { pemsRequestsPerSecond: null, rateLimitWaitsPerMinute: null, failedAttemptsPerMinute: null };
    if (this.config.console.sinkMetricsUrls.length === 0)
      return { status: 'unknown', reason: 'no sink metrics URL configured (console.sinkMetricsUrls)', ...none };
    if (this.scrapeError) return { status: 'unknown', reason: this.scrapeError, ...none };
    const last = this.scrapes[this.scrapes.length - 1];
    const first = this.scrapes[0];
    if (!last || !first || first === last)
      return { status: 'unknown', reason: 'waiting for a second scrape of the sinks', ...none };
    const secs = (last.at - first.at) / 1000;
    const perMin = (name: string): number | null => {
      const r = ratePerSecond(first.sums, last.sums, name, secs);
      return r === null ? null : r * 60;
    };
    return {
      status: 'ok',
      pemsRequestsPerSecond: ratePerSecond(first.sums, last.sums, 'pems_sync_pems_requests_total', secs),
      rateLimitWaitsPerMinute: perMin('pems_sync_pems_rate_limit_wait_seconds_count'),
      failedAttemptsPerMinute: perMin('pems_sync_failures_total'),
    };
  }

  /** The live streams' snapshot: the same one for every tab on these organizations within a live interval. */
  sharedSnapshot(organizationIds: readonly string[]): Promise<StatusSnapshot> {
    const key = [...organizationIds].sort().join('\u0000');
    const hit = this.shared.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    const value = this.snapshot(organizationIds);
    value.catch(() => this.shared.delete(key));
    this.shared.set(key, { at: Date.now(), value });
    for (const [k, v] of this.shared) if (Date.now() - v.at >= this.ttlMs) this.shared.delete(k);
    return value;
  }

  async snapshot(organizationIds: readonly string[]): Promise<StatusSnapshot> {
    const now = new Date();
    const [rows, hour, lag] = await Promise.all([
      readOrgPipelines(this.db, organizationIds),
      this.lastHour.read(organizationIds, now),
      this.consumerLag(),
      this.scrapeSinks(),
    ]);
    const minutes = hour.overall;
    const target = this.config.console.freshnessTargetSeconds;
    const stalled = this.config.console.stalledAfterSeconds;
    const orgs = await Promise.all(
      rows.map(async (row): Promise<OrgStatus> => {
        const pems = await this.pemsHealth(row.organizationId, row.pemsBaseUrl, row.pemsCredentialEncrypted);
        const st = this.pemsState.get(row.organizationId);
        const n = (s: string): number => row.counts[s] ?? 0;
        return {
          row,
          freshness: freshnessOf({
            oldestUnsyncedAt: row.oldestUnsyncedAt,
            totalEdits: row.hasEdits ? 1 : 0,
            now,
            targetSeconds: target,
            stalledAfterSeconds: stalled,
          }),
          pending: n('committed') + n('queued'),
          cdcLagSeconds: row.oldestUnclaimedAt
            ? Math.max(0, (now.getTime() - row.oldestUnclaimedAt.getTime()) / 1000)
            : null,
          inFlight: n('syncing'),
          waiting: n('committed') + n('queued') + n('syncing'),
          pems,
          pemsDownSince: st?.down ? st.since : null,
          pemsRecoveredAt: st && !st.down ? st.recoveredAt : null,
          lastHour: hour.byOrg
            .filter((m) => m.organizationId === row.organizationId)
            .reduce(
              (a, m) => ({
                synced: a.synced + m.synced,
                conflict: a.conflict + m.conflict,
                rejected: a.rejected + m.rejected,
                failed: a.failed + m.failed,
              }),
              { synced: 0, conflict: 0, rejected: 0, failed: 0 },
            ),
        };
      }),
    );
    return {
      at: now,
      orgs,
      overall: worstFreshness(orgs.map((o) => o.freshness.state)),
      lag: await lag,
      sink: this.sinkFigures(),
      rateLimitPerSecond: this.config.pems.rateLimitPerSecond,
      minutes,
    };
  }
}
