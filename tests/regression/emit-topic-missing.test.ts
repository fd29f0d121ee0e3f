/**
 * Regression: an outbox row whose topic does not exist on the cluster (deleted by an operator, or
 * a results topic renamed in config; the broker does not auto-create topics) blocked the sink.
 * A start's leftover scan (emitted.ts) asked Kafka for the missing topic's offsets, kafkajs
 * retried the metadata request for about 10 s, and the start failed: "pems-sync sink failed to
 * start: This server does not host this topic-partition" (the topic not named), exit 1, no ops
 * server (readiness and liveness unreachable), and a supervisor restarted it into the same
 * failure for ever: no edit of any topic was synced again. A topic deleted under a running sink
 * failed every drain with it: the recorder retried, then the sink stopped itself, into the loop.
 *
 * Fix (connectors/sink/emit.ts, missing-topics.ts): a missing topic holds back only its own rows.
 * They stay in the outbox (never deleted unemitted) and are left out of every drain, so other
 * topics' records keep flowing; an error log line names the topic and the number of records
 * (no record values), pems_sync_outbox_held_records{topic} counts them and /readyz fails with
 * the reason (liveness stays up: a restart would not help). The held topics are looked for
 * again every few seconds: once the topic exists, its rows are emitted, oldest first, exactly
 * once (read_committed), and readiness comes back.
 *
 * Performed on the real stack: Kafka (auto-create off), Postgres, the registry.
 */
import type { Admin } from 'kafkajs';
import type { Sink } from '../../connectors/sink';
import { startSink } from '../../connectors/sink';
import { createLogger, type DestinationStream } from '../../connectors/observability';
import { insertOutboxRecords } from '../../connectors/postgres/outbox';
import { createWorld, type World } from '../support/world';
import { testKafka } from '../support/kafka';
import { readCommitted, resultRow } from '../support/outbox';

jest.setTimeout(6 * 60_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  for (const t0 = Date.now(); ; await sleep(250)) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`not reached in ${timeoutMs} ms: ${what}`);
  }
}

describe('regression: an outbox row whose topic does not exist', () => {
  let world: World;
  let admin: Admin;
  let sink: Sink | null = null;
  const lines: Array<Record<string, unknown>> = [];
  const created: string[] = [];
  let gone: string;
  let heldId: string;

  async function readyz(): Promise<{ status: number; body: { ready: boolean; checks: Record<string, unknown> } }> {
    const res = await fetch(`http://127.0.0.1:${sink!.ops!.port}/readyz`);
    return { status: res.status, body: (await res.json()) as { ready: boolean; checks: Record<string, unknown> } };
  }

  async function heldMetric(topic: string): Promise<number | undefined> {
    const text = await (await fetch(`http://127.0.0.1:${sink!.ops!.port}/metrics`)).text();
    const m = new RegExp(
      `^pems_sync_outbox_held_records\\{topic="${topic.replace(/\./g, '\\.')}"\\} (\\d+)$`,
      'm',
    ).exec(text);
    return m ? Number(m[1]) : undefined;
  }

  async function inOutbox(id: string): Promise<boolean> {
    return (await world.db('sink_outbox').where({ id }).first('id')) !== undefined;
  }

  async function createTopic(topic: string): Promise<void> {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    created.push(topic);
  }

  beforeAll(async () => {
    world = await createWorld({ records: 2 });
    admin = testKafka().admin();
    await admin.connect();
    gone = `test.results.gone.${world.org.toLowerCase()}`;
  });

  afterAll(async () => {
    await sink?.close();
    // Never leave a row for a missing topic behind: it would be held by every sink of the suite.
    await world.db('sink_outbox').where('topic', 'like', `%${world.org.toLowerCase()}%`).del();
    const existing = await admin.listTopics();
    if (!existing.includes(world.topics.results))
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: world.topics.results, numPartitions: 1 }] });
    await admin.deleteTopics({ topics: created.filter((t) => t !== world.topics.results) }).catch(() => undefined);
    await admin.disconnect();
    await world.close();
  });

  it('when a row left in the outbox names a missing topic, then the sink starts, syncs and emits other records, reports the held topic, and emits the row once the topic exists', async () => {
    heldId = (await insertOutboxRecords(world.db, [resultRow(gone, world.org, `held-${world.org}`)]))[0]!;
    const capture: DestinationStream = { write: (line: string) => void lines.push(JSON.parse(line)) };
    // Before the fix this rejected after kafkajs's metadata retries: the sink never started.
    sink = await startSink(world.config, {
      clientOverrides: { ca: world.sim.cert },
      logger: createLogger('info', { test: world.org }, capture),
    });

    // Reported: a log line naming the topic (and no record value), the metric, readiness.
    const missingLines = lines.filter((l) => l.level === 'error' && l.topic === gone);
    expect(missingLines.map((l) => [l.msg, l.records])).toEqual([
      [expect.stringContaining(`topic ${gone} does not exist on the Kafka cluster`), 1],
    ]);
    expect(JSON.stringify(lines)).not.toContain(`held-${world.org}`);
    expect(await heldMetric(gone)).toBe(1);
    const notReady = await readyz();
    expect(notReady.status).toBe(503);
    expect(String(notReady.body.checks.outboxTopicsExist)).toContain(`topic ${gone} does not exist`);
    expect((await fetch(`http://127.0.0.1:${sink.ops!.port}/healthz`)).status).toBe(200);
    expect(sink.alive()).toBe(true);

    // Nothing else is blocked: an edit is synced and its result emitted while the row waits.
    await until('the sink in its consumer group', async () => (sink!.task.ready().ready ? true : undefined));
    const id = await world.commit({ pfaId: world.records[0]!.pfaId, delta: { notes: 'past the held row' } });
    expect((await world.waitForOutcome([id])).map((r) => r.sync_status)).toEqual(['synced']);
    const [result] = await world.decodeResults(1);
    expect(result).toMatchObject({ modificationId: id, outcome: 'SYNCED' });
    expect(await inOutbox(heldId)).toBe(true);

    // The topic back: the row is emitted (once, committed) and deleted, and readiness comes back.
    await createTopic(gone);
    await until('the held row emitted', async () => ((await inOutbox(heldId)) ? undefined : true));
    const seen = await readCommitted(testKafka(), gone);
    expect(seen).toEqual([{ outboxId: heldId, modificationId: `held-${world.org}` }]);
    await until('readiness back', async () => ((await readyz()).status === 200 ? true : undefined));
    expect((await readyz()).body.checks.outboxTopicsExist).toBe(true);
    expect(await heldMetric(gone)).toBe(0);
    expect(lines.filter((l) => l.topic === gone && l.level === 'info').map((l) => [l.msg, l.records])).toEqual([
      [expect.stringContaining(`topic ${gone} exists again`), 1],
    ]);
  });

  it('when the results topic is deleted under the running sink, then outcomes are recorded, dead letters keep flowing, the results wait and are emitted in order once it is back', async () => {
    const results = world.topics.results;
    await admin.deleteTopics({ topics: [results] });
    const first = await world.commit({ pfaId: world.records[0]!.pfaId, delta: { notes: 'while gone 1' } });
    expect((await world.waitForOutcome([first], 90_000)).map((r) => r.sync_status)).toEqual(['synced']);
    await until('the results topic held', async () => ((await heldMetric(results)) === 1 ? true : undefined));
    // A failed edit: its dead letter's topic exists, so it is emitted at once; its result waits.
    world.sim.control.setFaults({ errorRates: { 500: 1 }, endpoints: ['POST /pfa/batch'] });
    const dead = await world.commit({ pfaId: world.records[1]!.pfaId, delta: { notes: 'dead letter while gone' } });
    expect((await world.waitForOutcome([dead], 90_000)).map((r) => r.sync_status)).toEqual(['failed']);
    world.sim.control.clearFaults();
    const second = await world.commit({ pfaId: world.records[0]!.pfaId, delta: { notes: 'while gone 2' } });
    expect((await world.waitForOutcome([second], 90_000)).map((r) => r.sync_status)).toEqual(['synced']);
    const [deadLetter] = await world.readTopic(world.topics.deadLetters, 1);
    expect(JSON.parse(deadLetter!.value!.toString()).after.id).toBe(dead);
    await until('three results held', async () => ((await heldMetric(results)) === 3 ? true : undefined));
    expect(sink!.alive()).toBe(true);
    const notReady = await readyz();
    expect(notReady.status).toBe(503);
    expect(String(notReady.body.checks.outboxTopicsExist)).toContain(`topic ${results} does not exist`);

    await createTopic(results);
    await until('results emitted', async () => ((await heldMetric(results)) === 0 ? true : undefined));
    const emitted = await world.decodeResults(3);
    expect(emitted.map((r) => [r.modificationId, r.outcome])).toEqual([
      [first, 'SYNCED'],
      [dead, 'FAILED'],
      [second, 'SYNCED'],
    ]);
    expect((await readyz()).status).toBe(200);
  });
});
