/**
 * Regression (measured in the benchmark with one CDC event per modification, and with
 * `poll.interval.ms` 20: 1–3 of ~9,200 modifications stayed 'committed' for good): the change
 * event of a commit reached the topic 7–19 ms after it, the sink read it before the committing
 * transaction was visible to its own session (logical decoding sends a commit once its WAL is
 * flushed; other snapshots see it a moment later), the claim found no claimable row, and the
 * task marked the offset done as if the edit already had an outcome. No outcome, audit entry,
 * dead letter or write intent, and the offset committed past it.
 *
 * Fix (connectors/sink/claims.ts, ledger.ts, task.ts; streams/visibility.ts): a claim that takes
 * no row looks at the row's actual state; not found or not yet committed → the event waits
 * (its offset held back, later edits of its PFA behind it) and is claimed again after a back-off
 * (10 ms doubling, sink.visibility*), and one never seen is a dead letter after the bound.
 *
 * Performed for real: the sink reads a CDC topic of its own, on which the test produces the
 * change event (as Debezium writes it) of a modification whose inserting transaction is still
 * open, and commits that transaction a moment later; Debezium's own event of the row goes to
 * the shared topic, which this sink does not read, so the event the sink read is the only one.
 */
import type { Knex } from 'knex';
import type { Admin, Producer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { createWorld, writesApplied, type World } from '../support/world';
import { testKafka } from '../support/kafka';
import type { Sink } from '../../connectors/sink';

const VISIBILITY_TIMEOUT_MS = 8000;

describe('regression: a change event read before its transaction is visible is claimed again, never dropped', () => {
  let world: World;
  let sink: Sink;
  let admin: Admin;
  let producer: Producer;
  let cdcTopic: string;

  beforeAll(async () => {
    world = await createWorld({ records: 4 });
    cdcTopic = `test.cdc.${world.org.toLowerCase()}`;
    const kafka = testKafka('event-before-visible');
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: cdcTopic, numPartitions: 1 }] });
    producer = kafka.producer();
    await producer.connect();
    sink = await world.startSink({
      topics: { cdc: cdcTopic },
      sink: { visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS },
    });
  });

  afterAll(async () => {
    await producer?.disconnect();
    await admin?.disconnect();
    await world?.close();
  });

  /** Inserts a committed modification inside `trx` (not visible to anyone until it commits). */
  async function insertIn(trx: Knex.Transaction, pfaId: string, delta: Record<string, unknown>) {
    const mirror = await world.db('pfa_mirror').where({ organization_id: world.org, pfa_id: pfaId }).first('version');
    const [row] = await trx('pfa_modification')
      .insert({
        id: randomUUID(),
        organization_id: world.org,
        pfa_id: pfaId,
        user_id: world.user,
        operation: 'update',
        delta: JSON.stringify(delta),
        base_version: mirror.version,
        change_reason: 'test edit',
        sync_status: 'committed',
        committed_at: new Date(),
      })
      .returning('*');
    return row as Record<string, any>;
  }

  /** Produces the row's change event as Debezium writes it (JsonConverter, no schemas); returns its offset. */
  async function produceEvent(row: Record<string, any>): Promise<string> {
    const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : (v as string | null));
    const after = {
      ...row,
      delta: JSON.stringify(row.delta),
      sync_error: row.sync_error === null ? null : JSON.stringify(row.sync_error),
      committed_at: iso(row.committed_at),
      synced_at: iso(row.synced_at),
      created_at: iso(row.created_at),
      updated_at: iso(row.updated_at),
    };
    const [meta] = await producer.send({
      topic: cdcTopic,
      messages: [
        {
          key: JSON.stringify({ organization_id: row.organization_id, pfa_id: row.pfa_id }),
          value: JSON.stringify({
            before: null,
            after,
            source: { connector: 'postgresql', ts_ms: Date.now(), txId: null, lsn: null },
            op: 'c',
            ts_ms: Date.now(),
            transaction: null,
          }),
        },
      ],
    });
    return meta!.baseOffset!;
  }

  /** The consumer group's committed offset on the private CDC topic (-1: none yet). */
  async function committedOffset(): Promise<number> {
    const [t] = await admin.fetchOffsets({ groupId: world.config.kafka.groupId, topics: [cdcTopic] });
    return Number(t!.partitions[0]!.offset);
  }

  async function notVisibleClaims(): Promise<number> {
    const m = await sink.registry.getSingleMetric('pems_sync_claims_not_visible_total')?.get();
    return m?.values[0]?.value ?? 0;
  }

  /** Until the sink has claimed the event and found nothing, or committed its offset regardless. */
  async function untilReadByTheSink(offset: string, missesBefore: number): Promise<void> {
    const started = Date.now();
    while (Date.now() - started < 20_000) {
      if ((await notVisibleClaims()) > missesBefore || (await committedOffset()) > Number(offset)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the sink never read the change event');
  }

  async function untilCommittedPast(offset: string): Promise<void> {
    const started = Date.now();
    while ((await committedOffset()) <= Number(offset)) {
      if (Date.now() - started > 30_000) throw new Error(`offset ${offset} never committed`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('when the event of a modification is read while its transaction is still open, then it is synced once that commits, and its offset is committed only after the outcome', async () => {
    const rec = world.records[0]!;
    const misses = await notVisibleClaims();
    const trx = await world.db.transaction();
    let row: Record<string, any>;
    try {
      row = await insertIn(trx, rec.pfaId, { notes: 'visible a moment later' });
      const offset = await produceEvent(row);
      await untilReadByTheSink(offset, misses);
      // Past the 1 s offset commit: the commit must stay before an event that has no outcome.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await committedOffset()).toBeLessThanOrEqual(Number(offset));
      await trx.commit();
      const [done] = await world.waitForOutcome([row.id], 60_000);
      expect(done!.sync_status).toBe('synced');
      expect(writesApplied(world, rec.pfaId)).toBe(1);
      expect(world.sim.control.getRecord(rec.pfaId)!.notes).toBe('visible a moment later');
      await untilCommittedPast(offset);
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
    }
  });

  it('when a later edit of the PFA is visible before the earlier one, then it is written after the earlier one', async () => {
    const rec = world.records[1]!;
    const misses = await notVisibleClaims();
    const trx = await world.db.transaction();
    try {
      const first = await insertIn(trx, rec.pfaId, { notes: 'first' });
      const firstOffset = await produceEvent(first);
      await untilReadByTheSink(firstOffset, misses);
      const secondId = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'second' } });
      const second = await world.db('pfa_modification').where({ id: secondId }).first();
      await produceEvent(second);
      await new Promise((r) => setTimeout(r, 1000));
      // The later edit waits behind the one not visible yet: nothing reached PEMS.
      expect(writesApplied(world, rec.pfaId)).toBe(0);
      await trx.commit();
      const [a, b] = await world.waitForOutcome([first.id, secondId], 60_000);
      expect([a!.sync_status, b!.sync_status]).toEqual(['synced', 'synced']);
      expect(a!.pems_version_after).toBeLessThan(b!.pems_version_after);
      expect(world.sim.control.getRecord(rec.pfaId)!.notes).toBe('second');
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
    }
  });

  it('when the transaction of an event never becomes visible, then it is a dead letter naming the modification after the bound, and its offset is committed after that', async () => {
    const rec = world.records[2]!;
    const misses = await notVisibleClaims();
    const trx = await world.db.transaction();
    const row = await insertIn(trx, rec.pfaId, { notes: 'rolled back' });
    const offset = await produceEvent(row);
    await trx.rollback();
    await untilReadByTheSink(offset, misses);

    const started = Date.now();
    let letters: Array<Record<string, any>> = [];
    while (Date.now() - started < VISIBILITY_TIMEOUT_MS + 30_000) {
      letters = await world.db('dead_letter').where({ source_topic: cdcTopic, source_offset: offset });
      if (letters.length > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(letters).toHaveLength(1);
    expect(letters[0]!.organization_id).toBe(world.org);
    expect(letters[0]!.error_code).toBe('PEMS_SYNC_POISON_EVENT');
    expect(letters[0]!.reason).toContain(row.id);
    expect(letters[0]!.reason).toContain('not found as committed');
    // Looked for as long as the bound, not dropped at the first miss.
    expect(new Date(letters[0]!.created_at).getTime() - started).toBeGreaterThanOrEqual(VISIBILITY_TIMEOUT_MS - 2000);
    expect(writesApplied(world, rec.pfaId)).toBe(0);
    await untilCommittedPast(offset);
  });
});
