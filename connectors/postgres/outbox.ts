/**
 * The sink outbox (schemas/migrations/005_sink_outbox.ts): result and dead-letter records written
 * in the same transaction as the outcomes (sink-record.ts), produced to Kafka by the emitter
 * (connectors/sink/emit.ts) and deleted once Kafka acknowledged them.
 */
import type { Knex } from 'knex';
import type { SyncResultRecord } from '../../streams/outcomes';
import type { OutboxRecord } from '../../streams/outcome-rows';
import type { StoredHeaders } from '../../streams/stored-headers';

/** An outbox row as the emitter reads it. */
export interface OutboxRow {
  id: string;
  kind: 'result' | 'dead_letter';
  topic: string;
  key: Buffer | null;
  /** result: the SyncResult record, Avro-encoded at emit time. */
  value: SyncResultRecord | null;
  /** dead_letter: the original bytes. */
  rawValue: Buffer | null;
  headers: StoredHeaders;
}

/**
 * Inserts the records in order; resolves with their ids, in that order. One JSON array read by
 * jsonb_to_recordset (bytes as base64), not a multi-row VALUES list: less Postgres and sink CPU
 * per row (issue 16; audit.ts gives the figures).
 */
export async function insertOutboxRecords(
  db: Knex | Knex.Transaction,
  records: readonly OutboxRecord[],
): Promise<string[]> {
  if (records.length === 0) return [];
  const rows = records.map((r, o) => ({
    o,
    kind: r.kind,
    topic: r.topic,
    record_key: r.key === null ? null : r.key.toString('base64'),
    record_value: r.kind === 'result' ? r.value : null,
    raw_value: r.kind === 'result' || r.rawValue === null ? null : r.rawValue.toString('base64'),
    record_headers: r.headers,
  }));
  const inserted = await db.raw(
    `INSERT INTO sink_outbox (kind, topic, record_key, record_value, raw_value, record_headers)
     SELECT x.kind, x.topic, decode(x.record_key, 'base64'), x.record_value, decode(x.raw_value, 'base64'), x.record_headers
       FROM jsonb_to_recordset(?::jsonb) AS x(o int, kind text, topic text, record_key text, record_value jsonb,
                                              raw_value text, record_headers jsonb)
      ORDER BY x.o
     RETURNING id::text AS id`,
    [JSON.stringify(rows)],
  );
  // Ids come from the sequence in insertion order; sorted again so the order never rests on RETURNING's.
  return (inserted.rows as Array<{ id: string }>).map((r) => r.id).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
}

/**
 * Locks up to `limit` rows (the given ids, or the oldest left; only those of `topics` when given,
 * never those of `exceptTopics`) FOR UPDATE SKIP LOCKED in a transaction, hands them to `produce`
 * and deletes them once it resolves: two emitters never produce the same rows, and a failed
 * produce leaves them for the next drain. Resolves with the number of rows produced.
 */
export function drainOutboxRows(
  db: Knex,
  opts: { ids?: readonly string[]; limit: number; topics?: readonly string[]; exceptTopics?: readonly string[] },
  produce: (rows: OutboxRow[]) => Promise<void>,
): Promise<number> {
  // Each list is one array parameter (= ANY), not a placeholder per id: a flush's few hundred
  // ids were as many parameters, each bound, positioned by knex and parsed by Postgres (issue 16).
  const where: string[] = [];
  const bindings: string[][] = [];
  if (opts.ids) {
    where.push('id = ANY(?::bigint[])');
    bindings.push([...opts.ids]);
  }
  if (opts.topics) {
    where.push('topic = ANY(?::text[])');
    bindings.push([...opts.topics]);
  }
  if (opts.exceptTopics && opts.exceptTopics.length > 0) {
    where.push('NOT (topic = ANY(?::text[]))');
    bindings.push([...opts.exceptTopics]);
  }
  return db.transaction(async (trx) => {
    const found = await trx.raw(
      `SELECT id::text AS id, kind, topic, record_key, record_value, raw_value, record_headers
         FROM sink_outbox
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY id
        LIMIT ?
          FOR UPDATE SKIP LOCKED`,
      [...bindings, opts.limit],
    );
    const rows = found.rows as Array<Record<string, unknown>>;
    if (rows.length === 0) return 0;
    await produce(
      rows.map((r) => ({
        id: r.id as string,
        kind: r.kind as OutboxRow['kind'],
        topic: r.topic as string,
        key: r.record_key as Buffer | null,
        value: r.record_value as SyncResultRecord | null,
        rawValue: r.raw_value as Buffer | null,
        headers: r.record_headers as StoredHeaders,
      })),
    );
    await deleteOutboxRows(
      trx,
      rows.map((r) => r.id as string),
    );
    return rows.length;
  });
}

/** Per topic, the rows left in the outbox and when the oldest was written (ms since epoch). */
export async function outboxLeftovers(db: Knex): Promise<Array<{ topic: string; sinceMs: number; rows: number }>> {
  const left = (await db('sink_outbox')
    .select('topic')
    .min('created_at as since')
    .count('* as n')
    .groupBy('topic')) as Array<{
    topic: string;
    since: Date | string;
    n: string | number;
  }>;
  return left.map((l) => ({ topic: l.topic, sinceMs: new Date(l.since).getTime(), rows: Number(l.n) }));
}

export async function deleteOutboxRows(db: Knex | Knex.Transaction, ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await db.raw('DELETE FROM sink_outbox WHERE id = ANY(?::bigint[])', [[...ids]]);
}
