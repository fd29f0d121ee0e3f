import type { Kafka } from 'kafkajs';
import { collectMessages, testKafka } from '../../support/kafka';
import { testEnv } from '../../support/env';
import { call, createOrg, harness, type Harness, type TestOrg } from './harness';

describe('control API: dead letters (real Postgres, Kafka, Debezium)', () => {
  let h: Harness;
  let kafka: Kafka;
  let org: TestOrg;
  let other: TestOrg;

  beforeAll(async () => {
    kafka = testKafka('control-api-dead-letters-test');
    h = await harness({ kafka, config: { topics: { cdc: testEnv.cdcTopic } } });
    org = await createOrg(h.db, 'DLQ');
    other = await createOrg(h.db, 'DLQX');
  });
  afterAll(async () => {
    await h.close();
  });

  // Unique per run: poison dead letters are unique per (topic, partition, offset) (dead_letter_poison_once).
  let offset = (Date.now() % 1_000_000_000) * 100;
  async function seedFailed(
    pfaId: string,
    status: 'failed' | 'rejected' = 'failed',
  ): Promise<{ modificationId: string; deadLetterId: string }> {
    const [mod] = await h
      .db('pfa_modification')
      .insert({
        organization_id: org.id,
        pfa_id: pfaId,
        user_id: org.syncer,
        delta: JSON.stringify({ notes: 'x' }),
        base_version: 3,
        sync_status: status,
        committed_at: new Date(),
        attempts: 4,
        sync_error: JSON.stringify({ code: 'PEMS_SYNC_PEMS_TRANSIENT', message: '503' }),
      })
      .returning('id');
    const [dl] = await h
      .db('dead_letter')
      .insert({
        organization_id: org.id,
        pfa_id: pfaId,
        modification_id: mod.id,
        source_topic: testEnv.cdcTopic,
        source_partition: 0,
        source_offset: (offset += 1),
        record_key: Buffer.from(JSON.stringify({ organization_id: org.id, pfa_id: pfaId })),
        record_value: Buffer.from('{"op":"u"}'),
        reason: 'PEMS unavailable after 3 retries',
        error_code: 'PEMS_SYNC_PEMS_TRANSIENT',
        error: JSON.stringify({ message: '503 Service Unavailable' }),
      })
      .returning('id');
    return { modificationId: mod.id, deadLetterId: dl.id };
  }

  it("when listed, then each dead letter shows its reason, error, record sizes and the modification's state; the record comes from the detail; other organizations see none", async () => {
    const { deadLetterId, modificationId } = await seedFailed('PFA-DL-LIST');
    const res = await call(h, org.reader, 'GET', `/dead-letters?organization=${org.id}&status=open&pfaId=PFA-DL-LIST`);
    expect(res.statusCode).toBe(200);
    expect(res.json().items).toHaveLength(1);
    expect(res.json().items[0]).toMatchObject({
      id: deadLetterId,
      modificationId,
      reason: 'PEMS unavailable after 3 retries',
      errorCode: 'PEMS_SYNC_PEMS_TRANSIENT',
      error: { message: '503 Service Unavailable' },
      recordKeyBytes: Buffer.byteLength(JSON.stringify({ organization_id: org.id, pfa_id: 'PFA-DL-LIST' })),
      recordValueBytes: 10,
      status: 'open',
      modification: { syncStatus: 'failed', attempts: 4, userId: org.syncer },
    });
    expect(res.json().items[0]).not.toHaveProperty('recordValue');
    expect(res.json().items[0]).not.toHaveProperty('recordValueBase64');
    const detail = await call(h, org.reader, 'GET', `/dead-letters/${deadLetterId}`);
    expect(detail.json()).toMatchObject({
      id: deadLetterId,
      recordKey: JSON.stringify({ organization_id: org.id, pfa_id: 'PFA-DL-LIST' }),
      recordValue: '{"op":"u"}',
      recordKeyBase64: null,
      recordValueBase64: null,
      recordValueTruncated: false,
    });
    expect((await call(h, other.admin1, 'GET', `/dead-letters/${deadLetterId}`)).statusCode).toBe(404);
    expect((await call(h, other.admin1, 'POST', `/dead-letters/${deadLetterId}/replay`, {})).statusCode).toBe(404);
  });

  it('when a dead letter with a modification is replayed after the cause is fixed, then the same modification is committed again, CDC emits the transition, and it is audited', async () => {
    const { deadLetterId, modificationId } = await seedFailed('PFA-DL-REPLAY');
    expect((await call(h, org.reader, 'POST', `/dead-letters/${deadLetterId}/replay`, {})).statusCode).toBe(403);
    const res = await call(h, org.syncer, 'POST', `/dead-letters/${deadLetterId}/replay`, { reason: 'PEMS is back' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: deadLetterId, via: 'modification', modificationId });

    const mod = await h.db('pfa_modification').where({ id: modificationId }).first();
    expect(mod).toMatchObject({ sync_status: 'committed', sync_error: null, attempts: 4 });
    expect(await h.db('dead_letter').where({ id: deadLetterId }).first()).toMatchObject({
      status: 'replayed',
      resolved_by: org.syncer,
      resolution_reason: 'PEMS is back',
    });
    const [audit] = await h
      .db('audit_log')
      .where({ organization_id: org.id, event_type: 'deadletter.replayed', modification_id: modificationId });
    expect(audit.details).toMatchObject({
      deadLetterId,
      via: 'modification',
      previous: { syncStatus: 'failed', attempts: 4 },
      reason: 'PEMS is back',
    });

    // Debezium sees the row move from failed into committed: the sink's work signal, same id.
    const isThis = (m: { message: { key: Buffer | null; value: Buffer | null } }): boolean => {
      if (!m.message.key || !m.message.value) return false;
      const key = JSON.parse(m.message.key.toString());
      if (key.organization_id !== org.id || key.pfa_id !== 'PFA-DL-REPLAY') return false;
      const ev = JSON.parse(m.message.value.toString());
      // The publication carries committed rows only: failed → committed arrives as an insert (migration 009).
      return ev.op === 'c' && ev.after?.id === modificationId && ev.after?.sync_status === 'committed';
    };
    const { messages } = await collectMessages(kafka, testEnv.cdcTopic, isThis, 1);
    expect(JSON.parse(messages[0]!.message.value!.toString()).after.id).toBe(modificationId);

    const again = await call(h, org.syncer, 'POST', `/dead-letters/${deadLetterId}/replay`, {});
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toBe('DEAD_LETTER_NOT_OPEN');
  });

  it('when a poison event (no modification) is replayed, then its original key, value and headers are produced again to the CDC topic', async () => {
    const key = Buffer.from(JSON.stringify({ organization_id: org.id, pfa_id: 'PFA-POISON' }));
    const value = Buffer.from(`{"not":"a debezium envelope","org":"${org.id}"}`);
    const [dl] = await h
      .db('dead_letter')
      .insert({
        organization_id: org.id,
        pfa_id: 'PFA-POISON',
        modification_id: null,
        source_topic: testEnv.cdcTopic,
        source_partition: 2,
        source_offset: (offset += 1),
        record_key: key,
        record_value: value,
        record_headers: JSON.stringify({ 'x-trace': 'abc-123' }),
        reason: 'undecodable change event',
        error_code: 'PEMS_SYNC_ENVELOPE_INVALID',
      })
      .returning('id');
    const res = await call(h, org.admin1, 'POST', '/dead-letters/replay', { ids: [dl.id], reason: 'decoder fixed' });
    expect(res.statusCode).toBe(200);
    const [result] = res.json().results;
    expect(result).toMatchObject({
      id: dl.id,
      status: 'replayed',
      via: 'topic',
      modificationId: null,
      produced: { topic: testEnv.cdcTopic },
    });

    const { messages } = await collectMessages(
      kafka,
      testEnv.cdcTopic,
      (m) => m.message.value?.equals(value) === true,
      1,
    );
    const m = messages[0]!;
    expect(m.message.key!.equals(key)).toBe(true);
    expect(m.message.headers?.['x-trace']?.toString()).toBe('abc-123');
    expect(String(m.partition)).toBe(String(result.produced.partition));
    expect(m.message.offset).toBe(result.produced.offset);
    expect(await h.db('dead_letter').where({ id: dl.id }).first()).toMatchObject({ status: 'replayed' });
    const [audit] = await h
      .db('audit_log')
      .where({ organization_id: org.id, event_type: 'deadletter.replayed', pfa_id: 'PFA-POISON' });
    expect(audit.details).toMatchObject({
      via: 'topic',
      produced: { topic: testEnv.cdcTopic, offset: result.produced.offset },
    });
  });

  it('when many are replayed at once, then each has its own result (a synced modification is refused, others replayed)', async () => {
    const a = await seedFailed('PFA-DL-MANY-A', 'rejected');
    const b = await seedFailed('PFA-DL-MANY-B');
    await h.db('pfa_modification').where({ id: b.modificationId }).update({ sync_status: 'synced' });
    const foreign = await (async () => {
      const [dl] = await h
        .db('dead_letter')
        .insert({
          organization_id: other.id,
          source_topic: `t-${other.id}`,
          source_partition: 0,
          source_offset: 1,
          reason: 'r',
          error_code: 'E',
        })
        .returning('id');
      return dl.id as string;
    })();
    const res = await call(h, org.syncer, 'POST', '/dead-letters/replay', {
      ids: [a.deadLetterId, b.deadLetterId, foreign],
    });
    expect(res.statusCode).toBe(200);
    const results = res.json().results;
    expect(results.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([
      [a.deadLetterId, 'replayed'],
      [b.deadLetterId, 'refused'],
      [foreign, 'refused'],
    ]);
    expect(results[1]).toMatchObject({ httpStatus: 409, error: 'MODIFICATION_NOT_REPLAYABLE' });
    expect(results[2]).toMatchObject({ httpStatus: 404 });
    expect(await h.db('pfa_modification').where({ id: a.modificationId }).first()).toMatchObject({
      sync_status: 'committed',
    });
    expect(await h.db('dead_letter').where({ id: b.deadLetterId }).first()).toMatchObject({ status: 'open' });
    expect(await h.db('dead_letter').where({ id: foreign }).first()).toMatchObject({ status: 'open' });
  });

  it('when discarded with a reason by an administrator, then it is discarded and audited; a syncer gets 403, without a reason it is a 400', async () => {
    const { deadLetterId, modificationId } = await seedFailed('PFA-DL-DISCARD');
    expect((await call(h, org.admin1, 'POST', `/dead-letters/${deadLetterId}/discard`, {})).statusCode).toBe(400);
    // Discarding drops the work for good: perm_Sync is not enough (issue 13, item 12).
    const bySyncer = await call(h, org.syncer, 'POST', `/dead-letters/${deadLetterId}/discard`, {
      reason: 'not my problem',
    });
    expect(bySyncer.statusCode).toBe(403);
    expect(await h.db('dead_letter').where({ id: deadLetterId }).first()).toMatchObject({ status: 'open' });
    const res = await call(h, org.admin1, 'POST', `/dead-letters/${deadLetterId}/discard`, {
      reason: 'superseded by a newer edit',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'discarded',
      resolvedBy: org.admin1,
      resolutionReason: 'superseded by a newer edit',
    });
    expect(await h.db('pfa_modification').where({ id: modificationId }).first()).toMatchObject({
      sync_status: 'failed',
    });
    const [audit] = await h.db('audit_log').where({ organization_id: org.id, event_type: 'deadletter.discarded' });
    expect(audit).toMatchObject({ actor: org.admin1, modification_id: modificationId });
  });
});
