import type { Knex } from 'knex';
import type { Kafka } from 'kafkajs';
import { createDatabase } from '../../../connectors/postgres/db';
import { testEnv, uniqueId } from '../../support/env';
import { collectMessages, testKafka } from '../../support/kafka';

interface ChangeEvent {
  op: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: Record<string, unknown>;
}

/** Real Postgres -> Debezium (Kafka Connect) -> Kafka, read back with kafkajs. */
describe('Debezium captures pfa_modification', () => {
  let db: Knex;
  let kafka: Kafka;
  const org = uniqueId('CDC');

  beforeAll(async () => {
    db = createDatabase({ url: testEnv.databaseUrl, poolMax: 2 });
    kafka = testKafka();
    await db('organization').insert({ id: org, name: 'CDC test org' });
    await db('app_user').insert({ id: `u-${org}`, username: `user-${org}` });
  });

  afterAll(async () => {
    await db.destroy();
  });

  const forOrg = (m: { message: { key: Buffer | null } }): boolean =>
    m.message.key !== null && JSON.parse(m.message.key.toString()).organization_id === org;

  it('when a committed modification is inserted, then a create event keyed by organization + PFA carries the full row', async () => {
    const [row] = await db('pfa_modification')
      .insert({
        organization_id: org,
        pfa_id: 'PFA-000123',
        user_id: `u-${org}`,
        delta: { forecastEnd: '2026-07-31' },
        base_version: 7,
        change_reason: 'slip',
        sync_status: 'committed',
        committed_at: new Date(),
      })
      .returning('*');

    const { messages } = await collectMessages(kafka, testEnv.cdcTopic, forOrg, 1);
    const msg = messages[0]!.message;
    expect(JSON.parse(msg.key!.toString())).toEqual({ organization_id: org, pfa_id: 'PFA-000123' });
    const event = JSON.parse(msg.value!.toString()) as ChangeEvent;
    expect(event.op).toBe('c');
    expect(event.before).toBeNull();
    expect(event.after).toMatchObject({
      id: row.id,
      organization_id: org,
      pfa_id: 'PFA-000123',
      user_id: `u-${org}`,
      base_version: 7,
      change_reason: 'slip',
      sync_status: 'committed',
      operation: 'update',
      attempts: 0,
    });
    // jsonb arrives as JSON text (io.debezium.data.Json).
    expect(JSON.parse(event.after!.delta as string)).toEqual({ forecastEnd: '2026-07-31' });
    expect(event.source).toMatchObject({ connector: 'postgresql', table: 'pfa_modification' });
  });

  const isPfa =
    (pfaId: string) =>
    (m: { message: { key: Buffer | null } }): boolean =>
      forOrg(m) && JSON.parse(m.message.key!.toString()).pfa_id === pfaId;

  it('when a draft is edited into committed, then only the transition is captured, as a create event with the full row', async () => {
    const [row] = await db('pfa_modification')
      .insert({
        organization_id: org,
        pfa_id: 'PFA-000456',
        user_id: `u-${org}`,
        delta: { notes: 'draft' },
        base_version: 3,
      })
      .returning('id');
    await db('pfa_modification').where({ id: row.id }).update({ sync_status: 'committed', committed_at: new Date() });

    const { messages } = await collectMessages(kafka, testEnv.cdcTopic, isPfa('PFA-000456'), 1);
    const event = JSON.parse(messages[0]!.message.value!.toString()) as ChangeEvent;
    // The publication carries committed rows only: the draft insert is not captured, the update
    // into committed arrives as an insert of the row (pgoutput row filter, migration 009).
    expect(event.op).toBe('c');
    expect(event.after).toMatchObject({ id: row.id, sync_status: 'committed', base_version: 3 });
    expect(JSON.parse(event.after!.delta as string)).toEqual({ notes: 'draft' });
  });

  it('when the sink writes statuses of a 1 MiB edit, then only the commit is captured: the claim (a delete under the row filter) and the later writes are not', async () => {
    const big = { notes: 'y'.repeat(1_048_576 - 13) }; // the largest delta the database accepts by default
    const [row] = await db('pfa_modification')
      .insert({
        organization_id: org,
        pfa_id: 'PFA-000789',
        user_id: `u-${org}`,
        delta: big,
        base_version: 1,
        sync_status: 'committed',
        committed_at: new Date(),
      })
      .returning('id');
    await db('pfa_modification').where({ id: row.id }).update({ sync_status: 'syncing', attempts: 1 });
    await db('pfa_modification')
      .where({ id: row.id })
      .update({ sync_status: 'rejected', sync_error: JSON.stringify({ reason: 'x' }) });
    // A marker after them on the same key (same partition, so it comes after them).
    await db('pfa_modification').insert({
      organization_id: org,
      pfa_id: 'PFA-000789',
      user_id: `u-${org}`,
      delta: { notes: 'marker' },
      base_version: 1,
      sync_status: 'committed',
      committed_at: new Date(),
    });

    // Two events on this key, in order: one CDC event per modification (skipped.operations
    // "t,d", tombstones.on.delete false). An event for the claim (op d), its tombstone or
    // 'rejected' would come before the marker.
    const { messages } = await collectMessages(kafka, testEnv.cdcTopic, isPfa('PFA-000789'), 2);
    const values = messages.map((m) => m.message.value);
    expect(values).toHaveLength(2);
    const [create, marker] = values;
    expect(JSON.parse(create!.toString())).toMatchObject({ op: 'c', after: { id: row.id, sync_status: 'committed' } });
    expect(create!.length).toBeLessThan(1_048_576 + 4096);
    expect(JSON.parse(marker!.toString()).after.delta).toContain('marker');
  });
});
