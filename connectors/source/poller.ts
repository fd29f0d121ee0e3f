/**
 * The PEMS source connector: per organization with sync enabled, poll GET /pfa for records
 * changed since the stored cursor, page by page within the shared PEMS rate limit, and produce
 * each record to the raw topic (./raw.ts for the format).
 *
 * Durability rule (the read side's "offsets follow durability"): a page's cursor is stored only
 * after the idempotent producer's send of that page is acknowledged by every in-sync replica
 * (acks -1). A crash between the two re-produces the page on restart: duplicates, never gaps.
 * The mirror ignores a version it already has (streams/mirror.decideUpsert), so they are
 * harmless.
 *
 * Cursor (pems_source_cursor, one row per organization):
 *  - updated_since: where the current pass started. PEMS lists with updatedSince inclusive
 *    (schemas/openapi/pems-api.json; the simulator says why), so the next pass re-reads the boundary instant
 *    rather than missing a write stamped in the same millisecond.
 *  - cursor: PEMS's nextCursor after the last acknowledged page of the pass; null between passes.
 *  - high_water_updated_at: newest updatedAt produced in this pass. Pages come in (updatedAt,
 *    pfaId) order, so it becomes the next pass's updated_since.
 *  - mode: full_load until the organization's first pass completes, then incremental.
 *    records_loaded counts every record produced for the organization (the full load's progress
 *    while mode is full_load).
 *
 * One instance polls an organization at a time (a Postgres advisory lock per organization, try,
 * never wait), so several replicas can run the poller without producing every page twice.
 */
import type { Knex } from 'knex';
import type { Kafka, Message } from 'kafkajs';
import { IdempotentProducer } from '../kafka/idempotent-producer';
import type { Redis } from 'ioredis';
import { PemsClientPool, type CredentialKeyRing, type ListPage, type PemsClient } from '../pems';
import { PemsSyncError } from '../../streams/errors';
import {
  loadCursor,
  pollableOrganizations,
  recordPoll,
  updateCursor,
  withPollLock,
  type CursorRow,
  type OrganizationSource,
} from '../postgres/source-cursor';
import { laterOf, newestUpdatedAt } from '../../streams/poll-cursor';
import { RAW_CONTENT_TYPE, rawKey, rawValue } from './raw';
import type { SourceMetrics } from './metrics';

/** The little a read-side component logs through (pino's Logger fits). */
export interface SourceLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: SourceLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface PollerOptions {
  db: Knex;
  kafka: Kafka;
  /** The raw topic (config topics.pemsRaw). */
  topic: string;
  /**
   * The process's PEMS clients (PemsClientPool.fromConfig); the poller does not close a pool it was
   * given. Absent: the poller builds its own from keyRing, pems, redis and rateLimiterKeyPrefix.
   */
  clients?: PemsClientPool;
  /** Decrypts organization.pems_credential_encrypted (PEMS_SYNC_CREDENTIAL_KEYS); without `clients`. */
  keyRing?: CredentialKeyRing;
  /** Records per GET /pfa page, 1..500 (config source.pageSize). Default 500. */
  pageSize?: number;
  /** Pause between polls, ms (config source.pollIntervalMs). Default 60000. */
  pollIntervalMs?: number;
  pems?: {
    /** Per request, ms. Default 30000. */
    timeoutMs?: number;
    allowInsecureHttp?: boolean;
    /** Hosts a PEMS base URL may point at (config pems.allowedHosts); empty: any. */
    allowedHosts?: readonly string[];
    /** Extra CA to trust (the simulator's certificate). */
    ca?: string | Buffer;
    /** Requests per second per credential, shared with the sink; 0 disables. Default 10. */
    rateLimitPerSecond?: number;
    /** Added to the limiter's window, ms (config pems.rateLimitMarginMs). Default the limiter's. */
    rateLimitMarginMs?: number;
    /** Automatic retries of a failed GET inside one poll (the client's axios-retry). Default 3. */
    retries?: number;
  };
  /**
   * Redis (URL or client) of the shared rate limit: the same ledger as the sink, since both use
   * credentialId(tenant, organization, key) and the default key prefix. Empty: in-process.
   */
  redis?: string | Redis;
  /** Key prefix of the shared limiter. Default 'pems-sync:' (the sink's). */
  rateLimiterKeyPrefix?: string;
  /** Poll only these organizations (tests; sharding). Default every organization with sync enabled. */
  organizations?: readonly string[];
  /**
   * Poll the listed organizations even while their sync is disabled (`pems-sync org load`, before
   * sync is switched on).
   */
  includeSyncDisabled?: boolean;
  metrics?: SourceMetrics;
  logger?: SourceLogger;
  now?: () => Date;
  /** Test seams, never set in production. */
  hooks?: {
    /** After a page's produce is acknowledged, before its cursor is stored. Throw to simulate a crash there. */
    afterProduce?: (ctx: { organization: string; page: number; records: number }) => void | Promise<void>;
  };
}

export type { OrganizationSource } from '../postgres/source-cursor';

export interface PollSummary {
  organization: string;
  /** Another instance held the organization's lock. */
  skipped?: boolean;
  pages: number;
  records: number;
  /** The pass reached PEMS's last page (the cursor is back to null). */
  completed: boolean;
  error?: { code: string; message: string };
}

/**
 * A summary's error as an error again (`pems-sync org load` explains it): its code is PEMS's mapped
 * code or the socket's (ECONNREFUSED...), so it is not one of ERROR_CODES.
 */
export class PollFailure extends Error {
  readonly code: string;
  constructor(error: { code: string; message: string }) {
    super(error.message);
    this.name = 'PollFailure';
    this.code = error.code;
  }
}

export { laterOf, newestUpdatedAt } from '../../streams/poll-cursor';

/** The pool of a poller given keyRing and pems options instead of a pool (tests, the demo). */
function ownPool(o: PollerOptions): PemsClientPool {
  if (!o.keyRing) throw new Error('PemsPoller needs clients (a PemsClientPool) or keyRing');
  const p = o.pems ?? {};
  return new PemsClientPool({
    keyRing: o.keyRing,
    timeoutMs: p.timeoutMs,
    allowInsecureHttp: p.allowInsecureHttp,
    allowedHosts: p.allowedHosts,
    ca: p.ca,
    rateLimitPerSecond: p.rateLimitPerSecond ?? 10,
    rateLimitMarginMs: p.rateLimitMarginMs,
    retries: p.retries ?? 3,
    redis: o.redis,
    rateLimiterKeyPrefix: o.rateLimiterKeyPrefix,
  });
}

const sleep = (ms: number, signal: { cancelled: boolean; wake?: () => void }): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });

export class PemsPoller {
  private readonly opts: PollerOptions;
  private readonly producer: IdempotentProducer;
  private readonly logger: SourceLogger;
  private readonly now: () => Date;
  private readonly clients: PemsClientPool;
  private readonly ownsClients: boolean;
  private stopping = false;
  private stopped?: Promise<void>;
  private loop?: Promise<void>;
  private running?: Promise<PollSummary[]>;
  private readonly sleeper: { cancelled: boolean; wake?: () => void } = { cancelled: false };
  private lastSuccessAt: Date | null = null;

  constructor(options: PollerOptions) {
    this.opts = options;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? (() => new Date());
    this.ownsClients = options.clients === undefined;
    this.clients = options.clients ?? ownPool(options);
    // Replaced after a failed send (../kafka/idempotent-producer.ts says why).
    this.producer = new IdempotentProducer(options.kafka);
  }

  /** When the last poll of every organization succeeded (readiness / liveness input). */
  get lastSuccess(): Date | null {
    return this.lastSuccessAt;
  }

  private connect(): Promise<void> {
    return this.producer.connect();
  }

  /** Starts polling every pollIntervalMs until stop(). The first poll runs at once. */
  async start(): Promise<void> {
    await this.connect();
    if (this.loop) return;
    const interval = this.opts.pollIntervalMs ?? 60_000;
    this.loop = (async () => {
      while (!this.stopping) {
        try {
          await this.runOnce();
        } catch (e) {
          this.logger.error({ err: e }, 'poll round failed');
        }
        if (this.stopping) break;
        await sleep(interval, this.sleeper);
      }
    })();
  }

  /**
   * One poll of every organization: each until PEMS has no next page (or stop() is called).
   * Resolves with what each did; a failing organization does not stop the others.
   */
  async runOnce(): Promise<PollSummary[]> {
    if (this.running) return this.running;
    this.running = (async () => {
      await this.connect();
      const orgs = await this.organizations();
      const out: PollSummary[] = [];
      for (const org of orgs) {
        if (this.stopping) break;
        out.push(await this.pollOrganization(org));
      }
      if (out.every((s) => !s.error)) this.lastSuccessAt = this.now();
      return out;
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Idempotent: ends the loop after the page in flight (its cursor stored), closes clients and producer. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.sleeper.wake?.();
      const steps: Array<() => Promise<unknown>> = [
        async () => this.loop,
        async () => this.running,
        async () => (this.ownsClients ? this.clients.close() : undefined),
        async () => this.producer.disconnect(),
      ];
      // Keep going past a failing step: a hung client must not keep the producer open.
      for (const step of steps) {
        try {
          await step();
        } catch (e) {
          this.logger.warn({ err: e }, 'poller stop step failed');
        }
      }
    })();
    return this.stopped;
  }

  private async organizations(): Promise<OrganizationSource[]> {
    return pollableOrganizations(this.opts.db, this.opts);
  }

  private clientFor(org: OrganizationSource): PemsClient {
    return this.clients.clientFor(org);
  }

  private async pollOrganization(org: OrganizationSource): Promise<PollSummary> {
    const summary: PollSummary = { organization: org.id, pages: 0, records: 0, completed: false };
    const db = this.opts.db;
    try {
      const done = await withPollLock(db, org.id, async () => {
        await this.pollPages(org, summary);
        await recordPoll(db, org.id, this.now(), null);
      });
      if (done === 'skipped') return { ...summary, skipped: true };
    } catch (e) {
      const code =
        e instanceof PemsSyncError ? e.code : ((e as { code?: string }).code ?? 'PEMS_SYNC_SOURCE_POLL_FAILED');
      const message = e instanceof Error ? e.message : String(e);
      summary.error = { code, message };
      this.logger.error(
        { organization: org.id, err: e, pages: summary.pages },
        'poll of organization failed; the next poll resumes from the stored cursor',
      );
      await recordPoll(db, org.id, this.now(), { code, message }).catch(() => undefined);
    }
    return summary;
  }

  private async pollPages(org: OrganizationSource, summary: PollSummary): Promise<void> {
    const metrics = this.opts.metrics;
    const fail = (stage: string): void => metrics?.failures.inc({ organization: org.id, stage });
    let state: CursorRow;
    let client: PemsClient;
    try {
      // The credential first: an organization we cannot poll gets no cursor row.
      client = this.clientFor(org);
      state = await loadCursor(this.opts.db, org.id);
    } catch (e) {
      fail('setup');
      throw e;
    }
    const limit = this.opts.pageSize ?? 500;
    for (;;) {
      if (this.stopping) return;
      let page: ListPage;
      try {
        page = await client.listChanged({
          updatedSince: state.updated_since ? state.updated_since.toISOString() : undefined,
          cursor: state.cursor ?? undefined,
          limit,
        });
      } catch (e) {
        fail('poll');
        // PEMS refusing the cursor (expired, or from another deployment): restart the pass from
        // updated_since. Only duplicates can follow, never a gap.
        if (state.cursor && e instanceof PemsSyncError && e.code === 'PEMS_SYNC_PEMS_REJECTED') {
          await updateCursor(this.opts.db, org.id, { cursor: null, updated_at: this.now() });
          this.logger.warn(
            { organization: org.id, err: e },
            'PEMS refused the stored cursor; the next poll restarts the pass from updated_since',
          );
        }
        throw e;
      }
      const fetchedAt = this.now();
      const records = page.records as unknown[];
      metrics?.recordsFetched.inc({ organization: org.id }, records.length);

      if (records.length > 0) {
        const messages: Message[] = records.map((r) => ({
          key: rawKey(org.id, r),
          value: rawValue(r, fetchedAt),
          headers: { 'content-type': RAW_CONTENT_TYPE },
        }));
        try {
          await this.producer.send({ topic: this.opts.topic, messages });
        } catch (e) {
          fail('produce');
          throw e;
        }
      }
      summary.pages += 1;
      summary.records += records.length;
      metrics?.pages.inc({ organization: org.id });
      const newest = newestUpdatedAt(records);
      if (newest) metrics?.observeUpdatedAt(org.id, newest);
      await this.opts.hooks?.afterProduce?.({ organization: org.id, page: summary.pages, records: records.length });

      const highWater = laterOf(state.high_water_updated_at, newest);
      const loaded = state.records_loaded + records.length;
      const last = page.nextCursor === null;
      const patch: Record<string, unknown> = {
        cursor: page.nextCursor,
        high_water_updated_at: highWater,
        records_loaded: loaded,
        updated_at: this.now(),
      };
      if (last) {
        patch.updated_since = highWater ?? state.updated_since;
        if (state.mode === 'full_load') {
          patch.mode = 'incremental';
          patch.full_load_completed_at = this.now();
        }
      }
      try {
        await updateCursor(this.opts.db, org.id, patch);
      } catch (e) {
        fail('cursor');
        throw e;
      }
      if (state.mode === 'full_load') metrics?.fullLoadRecords.set({ organization: org.id }, loaded);
      state = {
        ...state,
        cursor: page.nextCursor,
        high_water_updated_at: highWater,
        records_loaded: loaded,
        updated_since: last ? (highWater ?? state.updated_since) : state.updated_since,
        mode: last ? 'incremental' : state.mode,
      };
      if (last) {
        summary.completed = true;
        return;
      }
    }
  }
}
