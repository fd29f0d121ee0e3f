/**
 * The result topics' contract for consumers (README "The result topics: a contract for
 * consumers"), checked against the real stack with the example consumer
 * (examples/result-consumer.ts): the key and per-PFA order, one record per outcome decoded
 * through the registry, dead letters carrying the result's code, and a subject whose BACKWARD
 * compatibility makes the real Apicurio registry refuse a breaking schema.
 */
import { randomBytes } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { consumeSyncResults, type DeadLetter, type SyncResult } from '../../examples/result-consumer';
import { createWorld, type World } from '../support/world';
import { SYNC_RESULT_SCHEMA } from '../../connectors/sink/emit';
import { testEnv } from '../support/env';

jest.setTimeout(180_000);

describe('result topics: the contract, as a consumer sees it', () => {
  let world: World;
  let consumer: Consumer | undefined;
  const results: Array<{
    key: { organizationId: string; pfaId: string };
    r: SyncResult;
    partition: number;
    offset: string;
  }> = [];
  const deadLetters: DeadLetter[] = [];
  const ids = { first: '', second: '', rejected: '', failed: '' };

  beforeAll(async () => {
    world = await createWorld({ records: 3 });
    await world.startSink();
    const [a, b, c] = world.records;
    ids.first = await world.commit({ pfaId: a!.pfaId, delta: { notes: 'first' } });
    await world.waitForOutcome([ids.first]);
    ids.second = await world.commit({ pfaId: a!.pfaId, delta: { notes: 'second' } });
    await world.waitForOutcome([ids.second]);
    ids.rejected = await world.commit({
      pfaId: b!.pfaId,
      delta: { forecastStart: '2027-03-01', forecastEnd: '2026-01-01' },
    });
    world.sim.control.setFaults({ errorRates: { 503: 1 }, endpoints: ['POST /pfa/batch'] });
    ids.failed = await world.commit({ pfaId: c!.pfaId, delta: { notes: 'never lands' } });
    await world.waitForOutcome([ids.rejected, ids.failed]);
    world.sim.control.clearFaults();

    consumer = await consumeSyncResults({
      brokers: testEnv.kafkaBrokers,
      registryUrl: testEnv.schemaRegistryUrl,
      groupId: `test-contract-${randomBytes(4).toString('hex')}`,
      resultTopic: world.topics.results,
      deadLetterTopic: world.topics.deadLetters,
      fromBeginning: true,
      onResult: (key, r, at) => void results.push({ key, r, ...at }),
      onDeadLetter: (d) => void deadLetters.push(d),
    });
    for (
      const t0 = Date.now();
      results.length < 4 || deadLetters.length < 1;
      await new Promise((r) => setTimeout(r, 200))
    ) {
      if (Date.now() - t0 > 60_000)
        throw new Error(`consumer saw ${results.length} results, ${deadLetters.length} dead letters`);
    }
  });
  afterAll(async () => {
    await consumer?.disconnect();
    await world?.close();
  });

  it('when results are read, then each is keyed by organization and PFA, one per modification, and a PFA keeps its order on one partition', () => {
    const byId = new Map(results.map((x) => [x.r.modificationId, x]));
    expect([...byId.keys()].sort()).toEqual(Object.values(ids).sort());
    expect(results).toHaveLength(4);
    for (const x of results) expect(x.key).toEqual({ organizationId: x.r.organizationId, pfaId: x.r.pfaId });
    const first = byId.get(ids.first)!;
    const second = byId.get(ids.second)!;
    expect(first.partition).toBe(second.partition);
    expect(BigInt(first.offset) < BigInt(second.offset)).toBe(true);
    expect(first.r).toMatchObject({ outcome: 'SYNCED', pemsVersionAfter: first.r.baseVersion + 1, error: null });
    expect(second.r).toMatchObject({ outcome: 'SYNCED', pemsVersionBefore: first.r.pemsVersionAfter });
  });

  it('when an edit fails, then its dead letter carries the same code as its result record; a rejection has a result but no dead letter', () => {
    const failed = results.find((x) => x.r.modificationId === ids.failed)!.r;
    expect(failed.outcome).toBe('FAILED');
    expect(deadLetters).toEqual([
      expect.objectContaining({ modificationId: ids.failed, organizationId: world.org, code: failed.error!.code }),
    ]);
    const rejected = results.find((x) => x.r.modificationId === ids.rejected)!.r;
    expect(rejected.outcome).toBe('REJECTED');
    expect(rejected.error!.fieldErrors!.length).toBeGreaterThan(0);
    expect(deadLetters.some((d) => d.modificationId === ids.rejected)).toBe(false);
  });

  it('when a breaking schema is registered on the result subject, then the registry refuses it (BACKWARD); an additive change with a default is compatible', async () => {
    const subject = `${world.topics.results}-value`;
    const base = testEnv.schemaRegistryUrl.replace(/\/+$/, '');
    const config = (await (await fetch(`${base}/config/${subject}`)).json()) as {
      compatibilityLevel?: string;
      compatibility?: string;
    };
    expect(config.compatibilityLevel ?? config.compatibility).toBe('BACKWARD');

    const schema = JSON.parse(SYNC_RESULT_SCHEMA);
    const headers = { 'content-type': 'application/vnd.schemaregistry.v1+json' };
    // Breaking: a new required field (no default) cannot be read from the records already written.
    const breaking = { ...schema, fields: [...schema.fields, { name: 'site', type: 'string' }] };
    const refused = await fetch(`${base}/subjects/${subject}/versions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ schema: JSON.stringify(breaking) }),
    });
    expect(refused.status).toBe(409);
    const additive = {
      ...schema,
      fields: [...schema.fields, { name: 'site', type: ['null', 'string'], default: null }],
    };
    const check = await fetch(`${base}/compatibility/subjects/${subject}/versions/latest`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ schema: JSON.stringify(additive) }),
    });
    expect(check.status).toBe(200);
    expect(((await check.json()) as { is_compatible?: boolean }).is_compatible).toBe(true);
  });
});
