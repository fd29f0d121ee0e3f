/**
 * Regression (issue 13, item 13): a crash could duplicate result records. emit.ts produced the
 * outbox rows and only then deleted them; a sink killed between the produce and the delete left
 * the rows behind and the restarted sink emitted them again: two identical SYNCED records for
 * one modification (10 of 10 when the kill landed in that window).
 *
 * Fix (connectors/sink/emit.ts, emitted.ts): rows are produced in a Kafka transaction with the
 * row id in a header, under a transactional id the restarted process takes over (fencing the
 * dead one); a start reads the topics' tail (read_committed) and does not produce again what is
 * already there.
 *
 * The window is placed exactly: PEMS_SYNC_TEST_EMIT_PAUSE_FILE makes the sink write a file and
 * wait after the Kafka commit and before the delete; the test kills it then.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWorld, type World } from '../support/world';
import { collect, testKafka } from '../support/kafka';
import { testEnv, uniqueId } from '../support/env';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { spawnSinkProcess, type SinkProcess } from '../support/sink-process';

/** Every record of the topic as a read_committed consumer sees it, once nothing new came for idleMs. */
async function readAll(topic: string, idleMs = 4000): Promise<Array<{ key: string; outboxId: string | null }>> {
  const registry = new SchemaRegistry({ host: testEnv.schemaRegistryUrl });
  return collect(testKafka(), topic, {
    until: { idleMs },
    readUncommitted: false,
    groupId: `reader-${uniqueId('r').toLowerCase()}`,
    pick: async ({ message }) => {
      const h = message.headers?.['pems-sync-outbox-id'];
      // Results are keyed by {organization_id, pfa_id}; the modification each is for is in the value.
      const modificationId = message.value
        ? String(((await registry.decode(message.value)) as { modificationId: string }).modificationId)
        : '';
      return { key: modificationId, outboxId: h === undefined ? null : String(h) };
    },
  });
}

describe('regression: a sink killed between producing its outbox and deleting it emits each result once', () => {
  let world: World;
  let caFile: string;
  const procs: SinkProcess[] = [];

  beforeAll(async () => {
    world = await createWorld({ records: 10 });
    const dir = mkdtempSync(join(tmpdir(), 'pems-sync-emit-'));
    caFile = join(dir, 'sim.pem');
    writeFileSync(caFile, world.sim.cert!);
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await world.close();
  });

  it('when the kill lands after the Kafka commit and before the outbox delete, then a read_committed consumer sees exactly one result per modification', async () => {
    const pauseFile = join(mkdtempSync(join(tmpdir(), 'pems-sync-emit-pause-')), 'produced');
    const env = { ...world.sinkEnv(caFile), PEMS_SYNC_SHUTDOWN_TIMEOUT_MS: '5000' };
    const first = spawnSinkProcess({ ...env, PEMS_SYNC_TEST_EMIT_PAUSE_FILE: pauseFile });
    procs.push(first);
    const ids: string[] = [];
    for (const r of world.records)
      ids.push(await world.commit({ pfaId: r.pfaId, delta: { notes: `once ${r.pfaId}` } }));

    const started = Date.now();
    while (!existsSync(pauseFile)) {
      if (Date.now() - started > 60_000)
        throw new Error('the sink never reached the window between produce and delete');
      await new Promise((r) => setTimeout(r, 50));
    }
    await first.kill();
    // The window was hit: rows produced (committed to Kafka) are still in the outbox.
    const left = await world.db('sink_outbox').where({ topic: world.topics.results }).count<{ n: string }[]>('* as n');
    expect(Number(left[0]!.n)).toBeGreaterThan(0);

    const second = spawnSinkProcess(env);
    procs.push(second);
    const rows = await world.waitForOutcome(ids, 60_000);
    expect(rows.every((r) => r.sync_status === 'synced')).toBe(true);
    // The outbox drains completely once the restarted sink emitted what was left.
    for (const t0 = Date.now(); ;) {
      const n = await world
        .db('sink_outbox')
        .whereIn('topic', [world.topics.results, world.topics.deadLetters])
        .count<{ n: string }[]>('* as n');
      if (Number(n[0]!.n) === 0) break;
      if (Date.now() - t0 > 30_000) throw new Error(`outbox still holds ${n[0]!.n} rows`);
      await new Promise((r) => setTimeout(r, 200));
    }

    const records = await readAll(world.topics.results);
    const perModification = new Map<string, number>();
    for (const r of records) perModification.set(r.key, (perModification.get(r.key) ?? 0) + 1);
    expect([...perModification.keys()].sort()).toEqual([...ids].sort());
    expect([...perModification.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(records.every((r) => r.outboxId !== null)).toBe(true);
  });
});
