/**
 * Reconcile one organization: read every PEMS record (GET /pfa?updatedSince=epoch, cursor
 * paging, 500 per page, through the shared per-credential rate limiter so a running sink and
 * read side keep their budget), the mirror, the mirror history and the modifications, then
 * compare them with the pure streams/reconcile.
 *
 * Cost: PEMS paging dominates. 100,000 records are 200 pages; at the contract's 10 requests
 * per second that is >= 20 s when nothing else uses the credential (more while the sink is
 * busy: it shares the budget). Postgres reads are four queries; the comparison is in maps.
 */
import type { Knex } from 'knex';
import type Redis from 'ioredis';
import { PemsClientPool, type CredentialKeyRing, type PemsClientOptions } from '../pems';
import {
  reconcile,
  type HistoryInput,
  type MirrorInput,
  type ModificationInput,
  type ReconcileInput,
  type ReconcileResult,
} from '../../streams/reconcile';
import type { PfaRecord } from '../../streams/pfa-record';
import { PemsSyncError } from '../../streams/errors';

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
  const org = await db('organization')
    .where({ id: organization })
    .first('pems_base_url', 'pems_tenant', 'pems_credential_encrypted');
  if (!org)
    throw new ReconcileError('PEMS_SYNC_RECONCILE_NO_ORGANIZATION', `organization ${organization} does not exist`);
  if (!org.pems_base_url || !org.pems_credential_encrypted) {
    throw new ReconcileError(
      'PEMS_SYNC_RECONCILE_NO_CREDENTIAL',
      `organization ${organization} has no PEMS base URL or credential`,
    );
  }
  const pool = opts.clients ?? runPool(opts);
  const tenant = (org.pems_tenant as string | null) ?? '';
  let client;
  try {
    client = pool.clientFor({
      id: organization,
      baseUrl: org.pems_base_url as string,
      tenant,
      credentialEncrypted: org.pems_credential_encrypted as string,
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
  const [mirrorRows, modRows, userRows] = await Promise.all([
    db('pfa_mirror').where({ organization_id: organization }).select('pfa_id', 'version', 'data'),
    db('pfa_modification')
      .where({ organization_id: organization })
      .whereNot({ sync_status: 'draft' })
      .select(
        'id',
        'pfa_id',
        'user_id',
        'operation',
        'delta',
        'sync_status',
        'pems_version_after',
        'committed_at',
        'created_at',
      ),
    db('user_organization').where({ organization_id: organization }).select('user_id'),
  ]);
  const users = new Set<string>(userRows.map((u: { user_id: string }) => u.user_id));
  for (const m of modRows as Array<{ user_id: string }>) users.add(m.user_id);
  // History only where it matters: PFAs with a synced modification, and versions our users wrote.
  const historyRows = await db('pfa_mirror_history')
    .where({ organization_id: organization })
    .andWhere((q) =>
      q
        .whereIn(
          'pfa_id',
          db('pfa_modification').where({ organization_id: organization, sync_status: 'synced' }).select('pfa_id'),
        )
        .orWhere('origin', 'sync')
        .orWhereIn('changed_by', [...users]),
    )
    .select('pfa_id', 'version', 'data', 'changed_by', 'origin');

  const iso = (d: unknown): string | null =>
    d === null || d === undefined ? null : d instanceof Date ? d.toISOString() : String(d);
  const mirror: MirrorInput[] = mirrorRows.map((r: Record<string, unknown>) => ({
    pfaId: r.pfa_id as string,
    version: Number(r.version),
    data: r.data as PfaRecord,
  }));
  const history: HistoryInput[] = historyRows.map((r: Record<string, unknown>) => ({
    pfaId: r.pfa_id as string,
    version: Number(r.version),
    data: r.data as PfaRecord,
    changedBy: (r.changed_by as string | null) ?? null,
    origin: r.origin as string,
  }));
  const modifications: ModificationInput[] = modRows.map((r: Record<string, unknown>) => ({
    id: r.id as string,
    pfaId: r.pfa_id as string,
    userId: r.user_id as string,
    operation: r.operation === 'delete' ? 'delete' : 'update',
    delta: (typeof r.delta === 'string' ? JSON.parse(r.delta) : (r.delta ?? {})) as Record<string, unknown>,
    syncStatus: r.sync_status as string,
    pemsVersionAfter:
      r.pems_version_after === null || r.pems_version_after === undefined ? null : Number(r.pems_version_after),
    committedAt: iso(r.committed_at),
    createdAt: iso(r.created_at) ?? new Date(0).toISOString(),
  }));

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
