/**
 * Which outbox rows Kafka already holds. The emitter produces outbox rows in a Kafka transaction,
 * each record carrying its row id in the `pems-sync-outbox-id` header, and deletes the rows only
 * after the commit. A crash between that commit and the delete leaves rows behind whose records
 * are already on the topic. Before re-emitting what a previous run left, the tail of each topic
 * is read with read_committed (an aborted transaction's records are never seen), from a little
 * before the oldest leftover row was written, and the ids found there are not emitted again.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { retryUnlessStopping } from '../kafka/consumer-retry';

export const OUTBOX_ID_HEADER = 'pems-sync-outbox-id';

export interface ScanOptions {
  /** Records written before this time (ms since epoch) are not read. */
  sinceMs: number;
  /** Stop once no record arrived for this long, ms (a tail ending in aborted records). Default 2000. */
  idleMs?: number;
  /** Stop after this long whatever was read, ms. Default 60000. */
  timeoutMs?: number;
}

export interface ScanResult {
  ids: Set<string>;
  /** Records read; false complete: the scan timed out before every partition's end. */
  records: number;
  complete: boolean;
}

export async function emittedOutboxIds(
  kafka: Kafka,
  topics: readonly string[],
  opts: ScanOptions,
): Promise<ScanResult> {
  const ids = new Set<string>();
  const admin = kafka.admin();
  await admin.connect();
  const ranges = new Map<string, { start: number; end: number }>();
  try {
    for (const topic of topics) {
      const [starts, ends] = await Promise.all([
        admin.fetchTopicOffsetsByTimestamp(topic, opts.sinceMs),
        admin.fetchTopicOffsets(topic),
      ]);
      for (const e of ends) {
        const s = starts.find((x) => x.partition === e.partition);
        const start = s && Number(s.offset) >= 0 ? Number(s.offset) : Number(e.high);
        if (start < Number(e.high)) ranges.set(`${topic}:${e.partition}`, { start, end: Number(e.high) });
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (ranges.size === 0) return { ids, records: 0, complete: true };

  const groupId = `pems-sync-outbox-scan-${randomBytes(6).toString('hex')}`;
  let done = false;
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 100,
    readUncommitted: false,
    retry: retryUnlessStopping(() => done),
  });
  let records = 0;
  let complete = false;
  try {
    await consumer.connect();
    for (const topic of new Set([...ranges.keys()].map((k) => k.slice(0, k.lastIndexOf(':')))))
      await consumer.subscribe({ topic, fromBeginning: true });
    const pending = new Set(ranges.keys());
    let lastSeen = Date.now();
    await new Promise<void>((resolve) => {
      const started = Date.now();
      const timer = setInterval(() => {
        if (pending.size === 0) complete = true;
        if (
          pending.size === 0 ||
          Date.now() - lastSeen > (opts.idleMs ?? 2000) ||
          Date.now() - started > (opts.timeoutMs ?? 60_000)
        ) {
          clearInterval(timer);
          resolve();
        }
      }, 100);
      // Seek once the group is joined (kafkajs: seek only after run).
      consumer.on(consumer.events.GROUP_JOIN, () => {
        for (const [tp, r] of ranges) {
          const i = tp.lastIndexOf(':');
          consumer.seek({ topic: tp.slice(0, i), partition: Number(tp.slice(i + 1)), offset: String(r.start) });
        }
      });
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const tp = `${batch.topic}:${batch.partition}`;
          const range = ranges.get(tp);
          if (!range) return;
          lastSeen = Date.now();
          for (const m of batch.messages) {
            records++;
            const h = m.headers?.[OUTBOX_ID_HEADER];
            if (h !== undefined) ids.add(Buffer.isBuffer(h) ? h.toString('utf8') : String(h));
            // The last data record can be followed by the transaction's commit marker only.
            if (Number(m.offset) >= range.end - 2) pending.delete(tp);
          }
        },
      });
    });
  } finally {
    done = true;
    await consumer.disconnect().catch(() => undefined);
    const cleanup = kafka.admin();
    await cleanup
      .connect()
      .then(() => cleanup.deleteGroups([groupId]))
      .catch(() => undefined);
    await cleanup.disconnect().catch(() => undefined);
  }
  return { ids, records, complete };
}
