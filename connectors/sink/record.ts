/**
 * The record stage: outcomes are group-committed, one Postgres transaction per flush (many
 * PFAs' outcomes at once), then emitted from the outbox, and only then are their Kafka
 * offsets marked done. Which rows an outcome writes is streams/outcome-rows.ts; the statements
 * are connectors/postgres/sink-record.ts. This file schedules: the flush timer and size, one
 * transaction at a time, retries, and the durability callback.
 */
import type { Knex } from 'knex';
import type { CdcPosition } from '../../streams/modification';
import type { RecordEntry } from '../../streams/record-entries';
import { recordOutcomes } from '../postgres/sink-record';
import type { Emitter } from './emit';
import { CLAIMABLE } from './claims';

export type { SourceRecord, AttemptLog, OutcomeEntry, PoisonEntry, RecordEntry } from '../../streams/record-entries';
export { organizationOf } from '../../streams/record-entries';

export interface RecorderOptions {
  db: Knex;
  emitter: Emitter;
  topics: { results: string; deadLetters: string };
  connectorName: string;
  /** Flush when this many entries wait. Default 2000. */
  maxEntries?: number;
  /** Flush at least this often while entries wait, ms. Default 20. */
  lingerMs?: number;
  /** Called after a flush is durable and emitted, with the positions now safe to commit. */
  onDurable: (positions: CdcPosition[], entries: RecordEntry[]) => void;
  onError: (err: unknown) => void;
  /** Tries of a flush's transaction and emit before giving up (backoff 0.25 s doubling to 15 s). Default 8. */
  retries?: number;
}

async function withRetries<T>(fn: () => Promise<T>, tries: number): Promise<T> {
  let delay = 250;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= tries || err instanceof TypeError || err instanceof ReferenceError) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  }
}

export class Recorder {
  private queue: Array<{ entry: RecordEntry; done: () => void; fail: (e: unknown) => void }> = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private emitting: Promise<void> = Promise.resolve();

  constructor(private readonly opts: RecorderOptions) {}

  /** Resolves once the entry is committed to Postgres and emitted to Kafka. */
  submit(entry: RecordEntry): Promise<void> {
    return new Promise((done, fail) => {
      this.queue.push({ entry, done, fail });
      if (this.queue.length >= (this.opts.maxEntries ?? 2000)) this.schedule(0);
      else this.schedule(this.opts.lingerMs ?? 20);
    });
  }

  /** Flushes what waits now; resolves when every flush so far is done. */
  async flush(): Promise<void> {
    this.schedule(0);
    await new Promise((r) => setImmediate(r));
    await this.flushing;
    await this.emitting;
    if (this.queue.length > 0) await this.flush();
  }

  private schedule(ms: number): void {
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const batch = this.queue;
      this.queue = [];
      if (batch.length === 0) return;
      // Transactions run one at a time (one audit chain, a stable order); the emit of one flush
      // overlaps the transaction of the next, and the emitter keeps emits in order.
      const persisted = this.flushing.then(() => this.persistBatch(batch));
      this.flushing = persisted.then(
        () => undefined,
        () => undefined,
      );
      this.emitting = Promise.all([this.emitting, persisted]).then(
        ([, ids]) => this.emitBatch(batch, ids),
        () => undefined,
      );
    }, ms);
  }

  private async persistBatch(
    batch: Array<{ entry: RecordEntry; done: () => void; fail: (e: unknown) => void }>,
  ): Promise<string[] | null> {
    const entries = batch.map((b) => b.entry);
    try {
      // Postgres restarting is a pause, not a loss: PEMS already has these writes, so the
      // outcomes are retried (with backoff) before giving up and letting redelivery redo them.
      const { topics, connectorName } = this.opts;
      return await withRetries(
        () => recordOutcomes(this.opts.db, entries, { now: new Date(), topics, connectorName, claimable: CLAIMABLE }),
        this.opts.retries ?? 8,
      );
    } catch (err) {
      // Nothing is marked done, so the offsets stay uncommitted and Kafka redelivers the events;
      // the claim guard and PEMS idempotency keys make the second pass safe.
      this.opts.onError(err);
      batch.forEach((b) => b.fail(err));
      return null;
    }
  }

  private async emitBatch(
    batch: Array<{ entry: RecordEntry; done: () => void; fail: (e: unknown) => void }>,
    ids: string[] | null,
  ): Promise<void> {
    if (ids === null) return; // the transaction failed and the batch was failed already
    const entries = batch.map((b) => b.entry);
    try {
      if (ids.length > 0) await withRetries(() => this.opts.emitter.drain(ids), this.opts.retries ?? 8);
      const positions = entries.flatMap((e) =>
        e.kind === 'poison' ? [e.source.position] : e.modifications.map((m) => m.source.position),
      );
      this.opts.onDurable(positions, entries);
      batch.forEach((b) => b.done());
    } catch (err) {
      // The outcomes are committed and the records wait in the outbox: the next start emits them.
      this.opts.onError(err);
      batch.forEach((b) => b.fail(err));
    }
  }
}
