/**
 * Regression (commit 047332b): in CI's rebalance scenario two sinks started together and the
 * second failed to start with Apicurio's "A rule named 'COMPATIBILITY' already exists". Each
 * Emitter registers the result schema on start; on a NEW subject the client library registers
 * and then sets the subject's compatibility, and the instance that sets it second is refused by
 * the registry.
 *
 * Fix (connectors/sink/emit.ts, Emitter.start): that refusal is retried like the client
 * library's own "Compatibility does not match" (the subject is there, registering again succeeds).
 *
 * The failing case, against the real registry (Apicurio, started by the stack): several
 * Emitters register the result schema at once on a fresh result topic (so a new subject), as
 * their starts do after taking a slot and opening a producer; every registration must succeed
 * and the subject must end with one schema version and its compatibility rule. Repeated on a
 * new subject per round (see ROUNDS). Only the registration is raced: starting 96 transactional
 * producers and slots as well made a CI run hang past the test's timeout (not seen elsewhere).
 */
import type { Knex } from 'knex';
import { createDatabase } from '../../connectors/postgres/db';
import { Emitter } from '../../connectors/sink/emit';
import { testKafka } from '../support/kafka';
import { testEnv, uniqueId } from '../support/env';

/** Emitters started at once, on one new subject per round. */
const INSTANCES = 8;
/**
 * Rounds, each on its own new subject: the instances' producers take different times to open, so
 * their registrations (three registry calls) overlap in some rounds only. With the fix reverted
 * 29 of 100 rounds failed (8 instances; 16 overlapped less, not more): all 12 rounds passing
 * without the fix is expected about once in 60 runs.
 */
const ROUNDS = 12;

jest.setTimeout(5 * 60_000);

/** A GET on the registry's Confluent-compatible API; resolves with the JSON body. */
async function registryGet(path: string): Promise<unknown> {
  const res = await fetch(`${testEnv.schemaRegistryUrl}${path}`);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

describe('regression: emitters starting together on a new result subject', () => {
  const suffix = uniqueId('emitrace').toLowerCase();
  const kafka = testKafka(`emit-race-${suffix}`);
  let db: Knex;
  let emitters: Emitter[] = [];

  beforeAll(() => {
    db = createDatabase({ url: testEnv.databaseUrl, poolMax: INSTANCES + 2 });
  });

  afterAll(async () => {
    await Promise.all(emitters.map((e) => e.close().catch(() => undefined)));
    await db?.destroy();
  });

  it(`when ${INSTANCES} emitters register the result schema at once on a new subject (${ROUNDS} rounds), as their starts do, then every one succeeds and the subject holds one schema with its compatibility rule`, async () => {
    const failures: string[] = [];
    const subjects: Array<{ versions: unknown; compatibility: unknown }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const topic = `test.results.${suffix}-${round}`;
      const subject = `${topic}-value`;
      emitters = Array.from(
        { length: INSTANCES },
        () =>
          new Emitter({
            kafka,
            db,
            registryUrl: testEnv.schemaRegistryUrl,
            resultsTopic: topic,
            transactionalIdPrefix: `test-emit-race-${suffix}-${round}`,
          }),
      );
      const starts = await Promise.allSettled(emitters.map((e) => e.registerSchema()));
      starts.forEach((s, i) => {
        if (s.status === 'rejected') failures.push(`round ${round}, emitter ${i + 1}: ${String(s.reason)}`);
      });
      // One schema with its rule for all; every emitter got its id.
      const ids = starts.map((s) => (s.status === 'fulfilled' ? s.value : null));
      expect(new Set(ids).size).toBe(1);
      const config = (await registryGet(`/config/${encodeURIComponent(subject)}`)) as { compatibilityLevel?: string };
      subjects.push({
        versions: await registryGet(`/subjects/${encodeURIComponent(subject)}/versions`),
        compatibility: config.compatibilityLevel,
      });
      emitters = [];
    }
    expect(failures).toEqual([]);
    expect(subjects).toEqual(Array.from({ length: ROUNDS }, () => ({ versions: [1], compatibility: 'BACKWARD' })));
  });
});
