/**
 * The write stage's edge to PEMS: single updates from many PFA lanes are gathered into
 * POST /pfa/batch requests of up to 100 items per organization.
 *
 * Batches are cut as late as possible: a request is sent only when one of the organization's
 * request slots is free, so while PEMS (or the shared rate limiter) is busy, waiting items pile
 * up and the next request carries more of them. At the contract's 10 requests/s that is what
 * turns 10 requests into ~1,000 modifications per second.
 */
import type { BatchItem, BatchItemResult, PemsClient, RequestSlot } from '../pems';
import { classify } from '../../streams/retry';
import { withSpan } from '../observability/tracing';
import { PemsSyncError } from '../../streams/errors';

export interface BatchWriterOptions {
  /** Items per POST /pfa/batch. Default 100 (PEMS refuses more: 413 BATCH_TOO_LARGE). */
  batchSize?: number;
  /** Requests in flight per organization. Default 4. */
  maxInFlight?: number;
  /** How long a lone item waits for company before a request is sent, ms. Default 2. */
  lingerMs?: number;
  /**
   * Called with the items of a request before it is sent (write-ahead intents); a failure fails
   * the items as a transient error instead of sending them.
   */
  beforeSend?: (
    organization: string,
    items: Array<{ item: BatchItem; modificationIds: readonly string[] }>,
  ) => Promise<void>;
  /** Called once per request with its result, for metrics and the outage detector. */
  onRequest?: (r: {
    organization: string;
    endpoint: string;
    ok: boolean;
    errorClass: string | null;
    seconds: number;
    items: number;
  }) => void;
}

interface Pending {
  item: BatchItem;
  modificationIds: readonly string[];
  resolve: (r: BatchItemResult) => void;
  reject: (e: unknown) => void;
}

interface Queue {
  client: PemsClient;
  items: Pending[];
  /** Requests reserving a token, cutting or being sent. */
  inFlight: number;
  /** Of those, the ones still waiting for their token (they have not cut their batch yet). */
  reserving: number;
  timer: NodeJS.Timeout | null;
}

export class BatchWriter {
  private readonly queues = new Map<PemsClient, Queue>();
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  private readonly lingerMs: number;

  constructor(private readonly opts: BatchWriterOptions = {}) {
    this.batchSize = opts.batchSize ?? 100;
    this.maxInFlight = opts.maxInFlight ?? 4;
    this.lingerMs = opts.lingerMs ?? 2;
  }

  /** Resolves with PEMS's per-item result; rejects when the whole request failed (typed PEMS error). */
  update(client: PemsClient, item: BatchItem, modificationIds: readonly string[] = []): Promise<BatchItemResult> {
    return new Promise((resolve, reject) => {
      let q = this.queues.get(client);
      if (!q) {
        q = { client, items: [], inFlight: 0, reserving: 0, timer: null };
        this.queues.set(client, q);
      }
      q.items.push({ item, modificationIds, resolve, reject });
      if (q.items.length >= this.batchSize) this.pump(q);
      else if (!q.timer) q.timer = setTimeout(() => this.pump(q!), this.lingerMs);
    });
  }

  /** Items waiting for a request slot, across organizations. */
  queued(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.items.length;
    return n;
  }

  private pump(q: Queue): void {
    if (q.timer) {
      clearTimeout(q.timer);
      q.timer = null;
    }
    // Only as many token reservations as the queued items need: a reservation that finds nothing
    // left to send would have held a token (and the pacing gap) for nothing.
    while (q.items.length > q.reserving * this.batchSize && q.inFlight < this.maxInFlight) {
      q.inFlight += 1;
      q.reserving += 1;
      void this.reserveAndSend(q).finally(() => {
        q.inFlight -= 1;
        if (q.items.length > 0) this.pump(q);
      });
    }
  }

  /**
   * Waits for the rate-limit token first, then cuts the batch from whatever is queued by then:
   * while the limiter holds requests back, the queue keeps filling and each request leaves full
   * (several instances sharing the limit would otherwise each send half-empty requests).
   */
  private async reserveAndSend(q: Queue): Promise<void> {
    let slot: RequestSlot;
    try {
      slot = await q.client.reserveRequest();
    } catch (err) {
      // The shared limiter is unreachable (Redis down): fail what this request would have carried.
      for (const p of q.items.splice(0, this.batchSize)) p.reject(err);
      return;
    } finally {
      q.reserving -= 1;
    }
    // One PFA may appear once per request: PEMS applies items in order, but two items of one
    // record in one batch would both carry the same expected version.
    const batch: Pending[] = [];
    const seen = new Set<string>();
    const rest: Pending[] = [];
    for (const p of q.items) {
      if (batch.length < this.batchSize && !seen.has(p.item.pfaId)) {
        seen.add(p.item.pfaId);
        batch.push(p);
      } else rest.push(p);
    }
    q.items = rest;
    if (batch.length === 0) {
      await slot.cancel(); // another slot took everything meanwhile: nothing was sent
      return;
    }
    if (this.opts.beforeSend) {
      try {
        await this.opts.beforeSend(
          q.client.organization,
          batch.map((p) => ({ item: p.item, modificationIds: p.modificationIds })),
        );
      } catch (err) {
        await slot.cancel();
        // Postgres, not PEMS, failed: nothing was sent, so no PEMS attempt is spent (retry.ts).
        const e = new PemsSyncError(
          'PEMS_SYNC_INTENT_STORE_UNAVAILABLE',
          `write intents could not be stored, nothing sent: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err, retriable: true },
        );
        for (const p of batch) p.reject(e);
        return;
      }
    }
    await this.send(q, batch, slot);
  }

  private async send(q: Queue, batch: Pending[], slot: RequestSlot): Promise<void> {
    const started = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const results = await withSpan(
        'pems-sync.pems.batch_update',
        { 'pems.organization': q.client.organization, 'pems.items': batch.length },
        () =>
          q.client.batchUpdate(
            batch.map((p) => p.item),
            { slot },
          ),
      );
      this.opts.onRequest?.({
        organization: q.client.organization,
        endpoint: 'POST /pfa/batch',
        ok: true,
        errorClass: null,
        seconds: seconds(),
        items: batch.length,
      });
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      this.opts.onRequest?.({
        organization: q.client.organization,
        endpoint: 'POST /pfa/batch',
        ok: false,
        errorClass: classify(err),
        seconds: seconds(),
        items: batch.length,
      });
      for (const p of batch) p.reject(err);
    }
  }
}
