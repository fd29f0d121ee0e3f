import { Kafka, logLevel } from 'kafkajs';
import { DLQ_HEADERS } from '../../../streams/outcomes';
import { testEnv } from '../../support/env';
import { createWorld, writesApplied, type World } from '../../support/world';

const header = (h: Record<string, unknown>, name: string): string | undefined => {
  const v = h[name];
  return v === undefined ? undefined : Buffer.from(v as Buffer).toString('utf8');
};

describe('sink: changes that cannot or should not be written', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ records: 8 });
    await world.db('app_user').insert({ id: `${world.user}-ro`, username: `${world.user}-ro` });
    await world
      .db('user_organization')
      .insert({ user_id: `${world.user}-ro`, organization_id: world.org, perm_sync: false });
    await world.startSink();
  });

  afterAll(async () => {
    await world.close();
  });

  it('when the committing user lacks perm_Sync, then the modification is rejected and PEMS is not called', async () => {
    const rec = world.records[0]!;
    const writes = (): unknown => world.sim.control.stats().requests['POST /pfa/batch'] ?? {};
    const before = JSON.stringify(writes());
    const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'no right' }, user: `${world.user}-ro` });
    const [row] = await world.waitForOutcome([id]);
    expect(row!.sync_status).toBe('rejected');
    expect(row!.sync_error.code).toBe('PEMS_SYNC_PERMISSION_DENIED');
    expect(writesApplied(world, rec.pfaId)).toBe(0);
    expect(JSON.stringify(writes())).toEqual(before);
    const audit = await world.db('audit_log').where({ modification_id: id });
    expect(audit.map((a) => `${a.event_type}:${a.actor}`)).toEqual([`sync.rejected:${world.user}-ro`]);
  });

  it('when a delta names an unknown or PEMS-owned field, then it is rejected naming the field', async () => {
    const id = await world.commit({ pfaId: world.records[1]!.pfaId, delta: { manufacturer: 'ACME', colour: 'red' } });
    const [row] = await world.waitForOutcome([id]);
    expect(row!.sync_status).toBe('rejected');
    const fields = (row!.sync_error.fieldErrors as Array<{ field: string }>).map((f) => f.field).sort();
    expect(fields).toEqual(['colour', 'manufacturer']);
  });

  it('when PEMS fails twice then answers, then the modification is synced with three attempts recorded', async () => {
    const rec = world.records[2]!;
    world.sim.control.setFaults({ reset: { count: 2 }, endpoints: ['POST /pfa/batch'] });
    const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'third time lucky' } });
    const [row] = await world.waitForOutcome([id]);
    world.sim.control.clearFaults();
    expect(row!.sync_status).toBe('synced');
    expect(row!.attempts).toBe(3);
    expect(writesApplied(world, rec.pfaId)).toBe(1);
    const audit = await world.db('audit_log').where({ modification_id: id }).orderBy('id');
    expect(audit.map((a) => a.details.result)).toEqual(['transient', 'transient', 'updated']);
  });

  it('when PEMS keeps failing with 5xx, then the modification fails after the last retry and one dead letter carries the context headers', async () => {
    const rec = world.records[3]!;
    world.sim.control.setFaults({ errorRates: { 500: 1 }, endpoints: ['POST /pfa/batch'] });
    const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'never lands' } });
    const [row] = await world.waitForOutcome([id]);
    world.sim.control.clearFaults();
    expect(row!.sync_status).toBe('failed');
    expect(row!.attempts).toBe(4); // the first try and three retries (delays 50, 100, 200 ms here)
    expect(writesApplied(world, rec.pfaId)).toBe(0);

    const dl = await world.readTopic(world.topics.deadLetters, 1);
    const h = dl[0]!.headers;
    expect(JSON.parse(dl[0]!.key!.toString())).toEqual({ organization_id: world.org, pfa_id: rec.pfaId });
    expect(JSON.parse(dl[0]!.value!.toString()).after.id).toBe(id);
    expect(header(h, DLQ_HEADERS.topic)).toBe(testEnv.cdcTopic);
    expect(header(h, DLQ_HEADERS.offset)).toMatch(/^\d+$/);
    expect(header(h, DLQ_HEADERS.exceptionMessage)).toMatch(/gave up after 4 attempts/);
    expect(header(h, DLQ_HEADERS.exceptionClass)).toBeDefined();
    const rows = await world.db('dead_letter').where({ modification_id: id });
    expect(rows).toHaveLength(1);
    expect(rows[0].status).toBe('open');
  });

  it('when PEMS answers 429 for a while, then no attempt is spent and the limit is respected', async () => {
    const rec = world.records[4]!;
    world.sim.control.setFaults({ errorRates: { 429: 1 }, endpoints: ['POST /pfa/batch'] });
    const id = await world.commit({ pfaId: rec.pfaId, delta: { notes: 'after the storm' } });
    await new Promise((r) => setTimeout(r, 1500));
    world.sim.control.clearFaults();
    const [row] = await world.waitForOutcome([id]);
    expect(row!.sync_status).toBe('synced');
    expect(row!.attempts).toBe(1);
    const stats = world.sim.control.stats();
    expect(stats.requests['POST /pfa/batch']?.['429']).toBeGreaterThan(0);
    expect(stats.maxRequestsPerSecond[world.org]).toBeLessThanOrEqual(10);
  });

  it('when poison events reach the CDC topic, then each becomes a dead letter with its reason and later edits still sync', async () => {
    const kafka = new Kafka({ clientId: 'poison-test', brokers: testEnv.kafkaBrokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const key = JSON.stringify({ organization_id: world.org, pfa_id: world.records[5]!.pfaId });
    const after = (over: Record<string, unknown>) => ({
      id: '7d6f1a52-0000-4000-8000-000000000001',
      organization_id: world.org,
      pfa_id: world.records[5]!.pfaId,
      user_id: world.user,
      operation: 'update',
      delta: '{"notes":"x"}',
      base_version: 1,
      change_reason: null,
      sync_status: 'committed',
      sync_error: null,
      pems_version_after: null,
      attempts: 0,
      committed_at: new Date().toISOString(),
      synced_at: null,
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
      supersedes_id: null,
      origin: 'user',
      ...over,
    });
    await producer.send({
      topic: testEnv.cdcTopic,
      messages: [
        { key, value: '{not json' },
        { key, value: JSON.stringify({ op: 'x', after: after({}), source: {} }) },
        { key, value: JSON.stringify({ op: 'c', after: after({ id: undefined }), source: {} }) },
        {
          key,
          value: JSON.stringify({
            op: 'c',
            after: after({ delta: JSON.stringify({ notes: 'y'.repeat(1_500_000) }) }),
            source: {},
          }),
        },
      ],
    });
    await producer.disconnect();
    const ok = await world.commit({ pfaId: world.records[6]!.pfaId, delta: { notes: 'still flowing' } });
    const [row] = await world.waitForOutcome([ok]);
    expect(row!.sync_status).toBe('synced');

    const start = Date.now();
    let rows: Array<Record<string, any>> = [];
    while (Date.now() - start < 20000) {
      rows = await world.db('dead_letter').where({ organization_id: world.org, error_code: 'PEMS_SYNC_POISON_EVENT' });
      if (rows.length >= 4) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(rows).toHaveLength(4);
    const reasons = rows.map((r) => r.reason).join(' | ');
    expect(reasons).toMatch(/JSON/i);
    expect(reasons).toMatch(/op/);
    expect(reasons).toMatch(/id/);
    expect(reasons).toMatch(/delta/);
    expect(rows.every((r) => r.record_value !== null)).toBe(true);
  });
});
