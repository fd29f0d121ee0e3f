/**
 * Claims with an owner and a lease (schemas/migrations/008_claim_lease.ts).
 *
 * Each sink process is a sink_instance row with a heartbeat. Claiming a modification moves it to
 * 'syncing' under this instance's id. A 'syncing' modification can be claimed again only by its
 * owner, or once the owner is gone: stopped (its row deleted on the way out) or silent for longer
 * than the lease (killed, partitioned away). So when a rebalance hands a partition to another
 * instance while the first still works on it, the new owner waits for that work instead of
 * redoing it; and when the first instance died, the new owner takes the work over after the lease.
 *
 * The heartbeat is one row per process (not per modification), so a long backlog in flight costs
 * one UPDATE every leaseMs/4, and nothing reaches the CDC topic (only pfa_modification is captured).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';

import { CLAIMABLE_STATUSES } from '../../streams/modification';
import { claimMiss } from '../../streams/visibility';

/** Statuses a claim may start from (streams/modification.ts names them). */
export const CLAIMABLE = CLAIMABLE_STATUSES;

export interface ClaimResult {
  /** Claimed now by this instance, with the status each had before ('syncing': taken over or resumed). */
  claimed: Array<{ id: string; prev: string }>;
  /** In 'syncing' under another live instance: wait for its outcome (or for its lease to lapse). */
  held: string[];
  /** Already have an outcome (or were superseded): nothing to do. */
  settled: string[];
  /**
   * Not found, or not yet committed, as this session sees them (streams/visibility.ts: the change
   * event can come before its transaction is visible here): claim them again shortly.
   */
  unseen: string[];
}

export interface ClaimCheck {
  settled: string[];
  /** The owner is gone (or it was released): claim it now. */
  takeable: string[];
  held: string[];
}

export interface ClaimsOptions {
  db: Knex;
  leaseMs: number;
  logger: Logger;
  /** Instance id; default host-pid-random (a restarted process is a new instance). */
  id?: string;
}

export class Claims {
  readonly id: string;
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> = Promise.resolve();

  constructor(private readonly opts: ClaimsOptions) {
    this.id = opts.id ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  }

  private get leaseSeconds(): number {
    return this.opts.leaseMs / 1000;
  }

  /** Registers this instance (before its first claim) and starts the heartbeat. */
  async start(): Promise<void> {
    const { db } = this.opts;
    await db('sink_instance')
      .insert({ id: this.id, host: hostname(), pid: process.pid })
      .onConflict('id')
      .merge({ heartbeat_at: db.fn.now() });
    // Rows of instances long gone (killed) are only history; keep the table small.
    await db('sink_instance').whereRaw(`heartbeat_at < now() - interval '1 day'`).delete();
    this.timer = setInterval(() => void this.heartbeat(), Math.max(250, Math.floor(this.opts.leaseMs / 4)));
    this.timer.unref();
  }

  private heartbeat(): Promise<void> {
    this.beating = this.beating.then(async () => {
      try {
        const n = await this.opts
          .db('sink_instance')
          .where({ id: this.id })
          .update({ heartbeat_at: this.opts.db.fn.now() });
        if (n === 0) await this.opts.db('sink_instance').insert({ id: this.id, host: hostname(), pid: process.pid });
      } catch (err) {
        // Past the lease, other instances may take this one's claims over: duplicates at worst
        // (claims are guarded and PEMS writes idempotent), never a loss.
        this.opts.logger.warn({ err }, 'claim heartbeat failed');
      }
    });
    return this.beating;
  }

  /** A claim is live while its owner's heartbeat is younger than the lease. */
  private ownerGoneSql(alias: string): string {
    return `(${alias}.claimed_by IS NULL OR ${alias}.claimed_by = :me OR NOT EXISTS (
              SELECT 1 FROM sink_instance i WHERE i.id = ${alias}.claimed_by AND i.heartbeat_at > now() - make_interval(secs => :lease)))`;
  }

  /** committed/queued → syncing, and 'syncing' whose owner is this instance or gone. */
  async claim(ids: readonly string[]): Promise<ClaimResult> {
    if (ids.length === 0) return { claimed: [], held: [], settled: [], unseen: [] };
    const { db } = this.opts;
    // Each id is looked up by its key (unnest, LATERAL), filtered, and only then locked. Written as
    // `c.id = ANY(:ids) AND c.sync_status IN (...)` the planner, with statistics taken while few
    // edits waited, scanned every waiting modification of pfa_modification_waiting and compared
    // each with every id: during a 10,000 backlog 150-260 ms per claim of 400, growing with the
    // backlog (issue 16). As before, only rows that pass the filter are locked (a row another live
    // instance holds is not, so its recorder never waits on this claim), now in id order, the same
    // for every claimant.
    const claimed = (
      await db.raw(
        `UPDATE pfa_modification m SET sync_status = 'syncing', claimed_by = :me, updated_at = now()
           FROM (SELECT c.id, c.prev
                   FROM unnest(CAST(:ids AS uuid[])) AS k(id)
                   CROSS JOIN LATERAL (
                     SELECT x.id, x.sync_status AS prev FROM pfa_modification x
                      WHERE x.id = k.id
                        AND (x.sync_status IN ('committed', 'queued') OR (x.sync_status = 'syncing' AND ${this.ownerGoneSql('x')}))
                        FOR UPDATE) c) p
          WHERE m.id = p.id
          RETURNING m.id, p.prev`,
        { me: this.id, ids: [...new Set(ids)].sort(), lease: this.leaseSeconds },
      )
    ).rows as Array<{ id: string; prev: string }>;
    const got = new Set(claimed.map((r) => r.id));
    const rest = ids.filter((id) => !got.has(id));
    const out: ClaimResult = { claimed, held: [], settled: [], unseen: [] };
    if (rest.length === 0) return out;
    const rows = (await db('pfa_modification').whereIn('id', rest).select('id', 'sync_status')) as Array<{
      id: string;
      sync_status: string;
    }>;
    const status = new Map(rows.map((r) => [r.id, r.sync_status]));
    // Told apart by the row's actual state: only an outcome settles an event.
    for (const id of rest) out[claimMiss(status.get(id) ?? null)].push(id);
    return out;
  }

  /**
   * Gives claims of this instance back without an outcome (still 'syncing', no owner): anyone may
   * take them at once, and whoever does resumes them with their write-ahead intents.
   */
  async release(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.opts.db.raw(
      // Looked up by key, as in claim() (a release at a stop may carry a whole backlog's ids).
      `UPDATE pfa_modification m SET claimed_by = NULL, updated_at = now()
         FROM (SELECT x.id FROM unnest(CAST(:ids AS uuid[])) AS k(id)
                 CROSS JOIN LATERAL (SELECT y.id, y.claimed_by, y.sync_status FROM pfa_modification y
                                      WHERE y.id = k.id OFFSET 0) x
                WHERE x.claimed_by = :me AND x.sync_status = 'syncing') r
        WHERE m.id = r.id AND m.claimed_by = :me AND m.sync_status = 'syncing'`,
      { me: this.id, ids: [...new Set(ids)].sort() },
    );
  }

  /** Where claims another instance held stand now. */
  async check(ids: readonly string[]): Promise<ClaimCheck> {
    const out: ClaimCheck = { settled: [], takeable: [], held: [] };
    if (ids.length === 0) return out;
    const rows = (
      await this.opts.db.raw(
        `SELECT m.id, m.sync_status, ${this.ownerGoneSql('m')} AS gone FROM pfa_modification m WHERE m.id = ANY(CAST(:ids AS uuid[]))`,
        { me: this.id, ids: [...ids], lease: this.leaseSeconds },
      )
    ).rows as Array<{ id: string; sync_status: string; gone: boolean }>;
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of ids) {
      const r = byId.get(id);
      if (!r || !(CLAIMABLE as readonly string[]).includes(r.sync_status)) out.settled.push(id);
      else if (r.sync_status !== 'syncing' || r.gone) out.takeable.push(id);
      else out.held.push(id);
    }
    return out;
  }

  /**
   * Stops the heartbeat and removes this instance, so what it leaves in 'syncing' can be taken
   * over at once (call after in-flight work is recorded or abandoned).
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
    await this.opts.db('sink_instance').where({ id: this.id }).delete();
  }
}
