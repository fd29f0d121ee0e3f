/**
 * Regression (issue 13, item 2, the anchor): the keyed chain's signed head cannot be forged, but
 * someone who saved an earlier head row (with its valid mac) can delete the later entries and put
 * that row back. The signed checkpoint of the head on a compacted Kafka topic, outside Postgres,
 * catches it: /audit/verify compares the chain with the newest checkpoint.
 */
import type { Kafka } from 'kafkajs';
import { publishCheckpoints } from '../../connectors/control-api/audit-checkpoints';
import { appendAudit, auditKeyRing } from '../../connectors/postgres/audit';
import { verifyAuditChain } from '../../connectors/postgres/audit-query';
import { uniqueId } from '../support/env';
import { testKafka } from '../support/kafka';
import { call, createOrg, harness, type Harness } from '../integration/control-api/harness';

describe('regression: a chain cut back to an old head is caught by the checkpoint outside Postgres', () => {
  let h: Harness;
  let kafka: Kafka;
  const topic = uniqueId('test.audit-checkpoints').toLowerCase();

  beforeAll(async () => {
    kafka = testKafka('audit-checkpoint-test');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
    });
    await admin.disconnect();
    h = await harness({ kafka, config: { audit: { checkpointTopic: topic } } });
  });
  afterAll(async () => {
    await h.close();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('when the tail after a checkpoint is deleted and an older signed head restored, then verify fails naming the checkpoint; an untouched chain verifies with it', async () => {
    const ring = auditKeyRing()!;
    const t = await createOrg(h.db, 'ANCHOR');
    const intact = await createOrg(h.db, 'ANCHOROK');
    await appendAudit(
      h.db,
      [1, 2, 3].map((n) => ({ organizationId: t.id, actor: t.syncer, eventType: 'sync.write', details: { n } })),
    );
    const oldHead = await h.db('audit_chain_head').where({ organization_id: t.id }).first();
    await appendAudit(
      h.db,
      [4, 5].map((n) => ({ organizationId: t.id, actor: t.syncer, eventType: 'sync.write', details: { n } })),
    );
    await appendAudit(h.db, [
      { organizationId: intact.id, actor: intact.syncer, eventType: 'sync.write', details: {} },
    ]);
    const producer = kafka.producer();
    await producer.connect();
    try {
      expect(await publishCheckpoints(h.db, producer, topic, ring, [t.id, intact.id])).toBe(2);
    } finally {
      await producer.disconnect();
    }
    const good = (await call(h, intact.reader, 'GET', `/audit/verify?organization=${intact.id}`)).json();
    expect(good).toMatchObject({ ok: true, checkpoint: { holds: true } });

    const rows = await h.db('audit_log').where({ organization_id: t.id }).orderBy('id');
    await h.db.transaction(async (tx) => {
      await tx.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await tx('audit_log').whereIn('id', [rows[3].id, rows[4].id]).delete();
      await tx('audit_chain_head').where({ organization_id: t.id }).update(oldHead);
      await tx.raw('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    });
    // Inside Postgres everything is consistent again: that is what the anchor is for.
    expect(await verifyAuditChain(h.db, t.id)).toMatchObject({ ok: true, entries: 3, keyed: { headValid: true } });
    const verdict = (await call(h, t.reader, 'GET', `/audit/verify?organization=${t.id}`)).json();
    expect(verdict).toMatchObject({ ok: false, entries: 3, checkpoint: { lastId: String(rows[4].id), holds: false } });
  }, 60_000);
});
