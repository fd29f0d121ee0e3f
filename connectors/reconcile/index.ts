/**
 * Reconcile one organization: read every PEMS record (GET /pfa?updatedSince=epoch, cursor
 * paging, 500 per page, through the shared per-credential rate limiter so a running sink and
 * read side keep their budget), the mirror, the mirror history and the modifications, then
 * compare them with the pure streams/reconcile.
 *
 * Cost: PEMS paging dominates. 100,000 records are 200 pages; at the contract's 10 requests
 * per second that is >= 20 s when nothing else uses the credential (more while the sink is
 * busy: it shares the budget). Postgres reads are four queries (connectors/postgres/reconcile-inputs.ts);
 * the comparison is in maps.
 */
import type { Knex } from 'knex';
import type Redis from 'ioredis';
import { PemsClientPool, type CredentialKeyRing, type PemsClientOptions } from '../pems';
import { reconcile, type ReconcileInput, type ReconcileResult } from '../../streams/reconcile';
import type { PfaRecord } from '../../streams/pfa-record';
import { PemsSyncError } from '../../streams/errors';
import { getPemsAccess } from '../postgres/organizations';
import { loadReconcileInputs } from '../postgres/reconcile-inputs';

export interface ReconcileOptions {
  db: Knex;
  organization: string;
  /**
   * The process's PEMS clients (PemsClientPool.fromConfig); not closed here. Absent: a pool of this
   * run from keyRing and the options below, closed when the run ends.
   */
  clients?: PemsClientPool;
  /** Decrypts the organization's credential; without `clients`. */
  keyRing?: CredentialKeyRing;
  /** Committed modifications younger than this may still be in flight, ms. Default 300000 (5 min). */
  graceMs?: number;
  /** Records per GET /pfa page, 1..500. Default 500. */
  pageSize?: number;
  /** Requests per second on this credential, shared with the sink through Redis. Default 10. */
  rateLimitPerSecond?: number;
  /** Added to the limiter's window, ms (pems.rateLimitMarginMs). Default the limiter's. */
  rateLimitMarginMs?: number;
  /** Redis URL or client of the shared limiter; empty: an in-process limiter (this run only). */
  redis?: string | Redis;
  /** Per request, ms. Default 30000. */
  timeoutMs?: number;
  /** Extra CA to trust (the simulator's certificate). */
  ca?: string | Buffer;
  allowInsecureHttp?: boolean;
  /** Hosts a PEMS base URL may point at (config pems.allowedHosts); empty: any. */
  allowedHosts?: readonly string[];
  clientOverrides?: Partial<PemsClientOptions>;
  now?: () => number;
  /**
   * Every write PEMS applied and every idempotent replay (the simulator's GET /__control/writes):
   * each applied write must be the one a synced modification records (streams/reconcile.ts).
   */
  writeLog?: ReconcileInput['writeLog'];
}

export interface ReconcileRun extends ReconcileResult {
  durationMs: number;
  pemsRequests: number;
}

export class ReconcileError extends PemsSyncError {}

const EPOCH = '1970-01-01T00:00:00.000Z';

/** The pool of a run given keyRing and client options instead of a pool (tests, the fault harness). */
function runPool(opts: ReconcileOptions): PemsClientPool {
  if (!opts.keyRing)
    throw new ReconcileError(
      'PEMS_SYNC_RECONCILE_NO_CREDENTIAL',
      'reconcile needs clients (a PemsClientPool) or keyRing',
    );
  return new PemsClientPool({
    keyRing: opts.keyRing,
    rateLimitPerSecond: opts.rateLimitPerSecond ?? 10,
    rateLimitMarginMs: opts.rateLimitMarginMs,
    redis: opts.redis,
    timeoutMs: opts.timeoutMs,
    ca: opts.ca,
    allowInsecureHttp: opts.allowInsecureHttp,
    allowedHosts: opts.allowedHosts,
    clientOverrides: opts.clientOverrides,
  });
}

export async function reconcileOrganization(opts: ReconcileOptions): Promise<ReconcileRun> {
  const started = Date.now();
  const { db, organization } = opts;
  const org = await getPemsAccess(db, organization);
  if (!org)
    throw new ReconcileError('PEMS_SYNC_RECONCILE_NO_ORGANIZATION', `organization ${organization} does not exist`);
  if (!org.pemsBaseUrl || !org.credentialEncrypted) {
    throw new ReconcileError(
      'PEMS_SYNC_RECONCILE_NO_CREDENTIAL',
      `organization ${organization} has no PEMS base URL or credential`,
    );
  }
  const pool = opts.clients ?? runPool(opts);
  const tenant = org.pemsTenant ?? '';
  let client;
  try {
    client = pool.clientFor({
      id: organization,
      baseUrl: org.pemsBaseUrl,
      tenant,
      credentialEncrypted: org.credentialEncrypted,
    });
  } catch (e) {
    if (!opts.clients) await pool.close();
    throw e;
  }

  let pemsRequests = 0;
  const pems: PfaRecord[] = [];
  try {
    for await (const page of client.pages({ updatedSince: EPOCH, limit: opts.pageSize ?? 500 })) {
      pemsRequests++;
      for (const r of page.records) if (r.organization === undefined || r.organization === organization) pems.push(r);
    }
  } finally {
    // A pool of this run only: its client and limiter (whose Redis connection keeps the process alive) end here.
    if (!opts.clients) await pool.close();
  }

  // Postgres after PEMS: a modification synced while we paged then has its mirror row too.
  const { mirror, history, modifications, users } = await loadReconcileInputs(db, organization);

  const result = reconcile({
    organization,
    pems,
    mirror,
    history,
    modifications,
    vanguardUsers: users,
    now: (opts.now ?? Date.now)(),
    graceMs: opts.graceMs ?? 300_000,
    writeLog: opts.writeLog,
  });
  return { ...result, durationMs: Date.now() - started, pemsRequests };
}
