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
        organization_id: org, pfa_id: 'PFA-000123', user_id: `u-${org}`, delta: { forecastEnd: '2026-07-31' },
        base_version: 7, change_reason: 'slip', sync_status: 'committed', committed_at: new Date(),
      })
      .returning('*');

    const { messages } = await collectMessages(kafka, testEnv.cdcTopic, forOrg, 1);
    const msg = messages[0]!.message;
    expect(JSON.parse(msg.key!.toString())).toEqual({ organization_id: org, pfa_id: 'PFA-000123' });
    const event = JSON.parse(msg.value!.toString()) as ChangeEvent;
    expect(event.op).toBe('c');
    expect(event.before).toBeNull();
    expect(event.after).toMatchObject({
      id: row.id, organization_id: org, pfa_id: 'PFA-000123', user_id: `u-${org}`, base_version: 7,
      change_reason: 'slip', sync_status: 'committed', operation: 'update', attempts: 0,
    });
    // jsonb arrives as JSON text (io.debezium.data.Json).
    expect(JSON.parse(event.after!.delta as string)).toEqual({ forecastEnd: '2026-07-31' });
    expect(event.source).toMatchObject({ connector: 'postgresql', table: 'pfa_modification' });
  });

  it('when a draft is edited into committed, then an update event carries before (draft) and after (committed) on the same partition', async () => {
    const [row] = await db('pfa_modification')
      .insert({ organization_id: org, pfa_id: 'PFA-000456', user_id: `u-${org}`, delta: { notes: 'draft' }, base_version: 3 })
      .returning('id');
    await db('pfa_modification').where({ id: row.id }).update({ sync_status: 'committed', committed_at: new Date() });

    const isPfa456 = (m: { message: { key: Buffer | null } }): boolean =>
      forOrg(m) && JSON.parse(m.message.key!.toString()).pfa_id === 'PFA-000456';
    const { messages } = await collectMessages(kafka, testEnv.cdcTopic, isPfa456, 2);
    const [create, update] = messages.map((m) => JSON.parse(m.message.value!.toString()) as ChangeEvent);
    expect(create!.op).toBe('c');
    expect(create!.after!.sync_status).toBe('draft');
    expect(update!.op).toBe('u');
    expect(update!.before!.sync_status).toBe('draft');
    expect(update!.after!.sync_status).toBe('committed');
    expect(messages[0]!.partition).toBe(messages[1]!.partition);
  });
});
