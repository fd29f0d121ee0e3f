import { createFaultWorld, expectPromisesKept, judge, pick, runWorkload, sleep, type FaultWorld } from './harness';
import { testEnv } from '../support/env';
import { collectMessages, testKafka } from '../support/kafka';

/**
 * Issue 13, item 1: an edit of about 8 MiB used to stop Debezium for every organization (the
 * sink's own status write of it, with REPLICA IDENTITY FULL, made an event carrying the delta
 * twice, over the Connect producer's limit). Now the database refuses a delta over
 * sink.maxDeltaBytes at commit, and the sink's status writes are captured as a small delete or
 * not at all. Here, while Vanguard users keep editing: the largest allowed delta is committed
 * (PEMS's rules reject a 1 MiB note, so the sink writes `rejected` on a 1 MiB row) and a
 * just-too-large one is refused at the insert; Debezium keeps running and everything else syncs.
 */
const LIMIT = 1_048_576; // sink.maxDeltaBytes default, the limit migrateLatest applied
/** {"notes": "…"} as Postgres prints jsonb: 13 bytes around the string. */
const noteOf = (bytes: number): Record<string, string> => ({ notes: 'z'.repeat(bytes - 13) });

async function debeziumStates(): Promise<string[]> {
  const name = process.env.DEBEZIUM_CONNECTOR_NAME ?? 'pems-sync-pfa-modification';
  const res = await fetch(`${process.env.KAFKA_CONNECT_URL ?? 'http://127.0.0.1:8083'}/connectors/${name}/status`);
  const s = (await res.json()) as { connector: { state: string }; tasks: Array<{ state: string }> };
  return [s.connector.state, ...s.tasks.map((t) => t.state)];
}

describe('faults: the largest allowed edit and a just-too-large one, while others sync', () => {
  let fw: FaultWorld;

  beforeAll(async () => {
    fw = await createFaultWorld({ records: 20, users: 4 });
    await fw.startReadSide();
    fw.spawnSink({ PEMS_SYNC_RETRY_DELAYS_MS: '200,500,1000' });
  });

  afterAll(async () => {
    await fw.close();
  });

  it('when a delta of exactly sink.maxDeltaBytes and one byte more are committed, then the first gets its outcome, the second is refused at commit, and capture never stops', async () => {
    const { world } = fw;
    const workload = runWorkload(fw, { durationMs: pick(40_000, 20_000), intervalMs: 150 });
    await sleep(3000);
    const bigPfa = world.records[2]!.pfaId;

    const largest = await world.commit({ pfaId: bigPfa, delta: noteOf(LIMIT), baseVersion: 1 });
    fw.committed.push(largest);
    const stored = await world
      .db('pfa_modification')
      .where({ id: largest })
      .first(world.db.raw('octet_length(delta::text) AS n'));
    expect(Number(stored.n)).toBe(LIMIT);

    // One byte over: the application gets the constraint's error at commit; nothing is stored.
    await expect(world.commit({ pfaId: bigPfa, delta: noteOf(LIMIT + 1), baseVersion: 1 })).rejects.toThrow(
      /pfa_modification_delta_size_check/,
    );
    // 8 MiB, the size of the original report, is refused the same way.
    await expect(world.commit({ pfaId: bigPfa, delta: noteOf(8 * LIMIT), baseVersion: 1 })).rejects.toThrow(
      /pfa_modification_delta_size_check/,
    );
    const oversized = await world
      .db('pfa_modification')
      .where({ organization_id: world.org })
      .whereRaw('octet_length(delta::text) > ?', [LIMIT])
      .count<{ n: string }[]>({ n: '*' });
    expect(Number(oversized[0]!.n)).toBe(0);

    // Edits made after it, on the same PFA and others, must still flow.
    const following = await world.commit({ pfaId: bigPfa, delta: { notes: 'after the big one' } });
    fw.committed.push(following);
    const states: string[][] = [];
    const stats = await workload;
    states.push(await debeziumStates());
    const v = await judge(fw, 'oversized-edit', { workload: stats });
    states.push(await debeziumStates());

    const rows = await world
      .db('pfa_modification')
      .whereIn('id', [largest, following])
      .select('id', 'sync_status', 'sync_error');
    const statusOf = (id: string): string => rows.find((r) => r.id === id)!.sync_status as string;
    process.stdout.write(
      `[faults] oversized-edit: largest allowed → ${statusOf(largest)}, following edit → ${statusOf(following)}, Debezium ${JSON.stringify(states)}\n`,
    );
    expect(statusOf(largest)).toBe('rejected'); // PEMS's rule on notes, applied before any write
    expect(['synced', 'superseded', 'conflict']).toContain(statusOf(following));
    for (const s of states) expect(s.every((x) => x === 'RUNNING')).toBe(true);

    // On the CDC topic the 1 MiB delta travels once: in the event of its commit, the only event
    // of the modification (skipped.operations "t,d", tombstones.on.delete false: the sink's claim,
    // a delete under the publication's row filter, and its 'rejected' write are not captured).
    // The next event naming the largest one or a marker committed once all was quiet (same key,
    // same partition, so in order) is the marker's.
    const marker = await world.commit({ pfaId: bigPfa, delta: { notes: 'marker after quiet' } });
    const named = (m: { message: { value: Buffer | null } }): boolean =>
      m.message.value !== null && (m.message.value.includes(largest) || m.message.value.includes(marker));
    const { messages } = await collectMessages(testKafka('faults-oversized'), testEnv.cdcTopic, named, 2);
    const sizes = messages.map((m) => m.message.value!.length);
    process.stdout.write(
      `[faults] oversized-edit: CDC events of the largest edit and the next: ${JSON.stringify(sizes)} bytes\n`,
    );
    expect(messages.map((m) => (m.message.value!.includes(largest) ? 'largest' : 'marker'))).toEqual([
      'largest',
      'marker',
    ]);
    expect(JSON.parse(messages[0]!.message.value!.toString())).toMatchObject({
      op: 'c',
      after: { id: largest, sync_status: 'committed' },
    });
    expect(sizes[0]).toBeGreaterThan(LIMIT);
    expect(sizes[0]).toBeLessThan(LIMIT + 8192);

    expectPromisesKept(v);
    expect(v.byStatus.synced ?? 0).toBeGreaterThan(stats.vanguardEdits / 3);
  });
});
