/**
 * Regression: the sink's self-stop had no hard exit timer. When the sink stops itself (outcomes
 * recorded but not emittable, outcomes not recordable, the consumer crashed for good), index.ts
 * stops it gracefully and main.ts exits non-zero once that finished. Only the SIGTERM path was
 * bounded (sink.shutdownTimeoutMs + 10 s, then exit 1): a self-stop whose graceful stop hung (a
 * step waiting on a Postgres or Kafka that stopped answering) left the process alive and idle
 * for ever, and a supervisor that watches the process, not /healthz, never restarted it.
 *
 * Fix (connectors/sink/main.ts): one bound for every stop, armed by the signal handler and by
 * the self-stop alike: past it the process exits 1, and stderr says the exit was forced.
 *
 * Performed with a real sink process on the real stack: a poison event's dead letter cannot be
 * emitted (the dead-letter topic's max.message.bytes is below the record's size, so every emit
 * fails whatever is retried) and the sink stops itself; its graceful stop is made to hang
 * (PEMS_SYNC_TEST_STOP_HANG, a test-only setting). The process must exit with code 1 within the
 * bound, saying it was forced. (A poison event, not an edit: an edit's lane would reject with
 * the failed record and crash the process on the unhandled rejection before any bound mattered.)
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigResourceTypes } from 'kafkajs';
import { createWorld, type World } from '../support/world';
import { testKafka } from '../support/kafka';
import { spawnSinkProcess, type SinkProcess } from '../support/sink-process';
import { testEnv } from '../support/env';

jest.setTimeout(5 * 60_000);

const SHUTDOWN_TIMEOUT_MS = 2000;
/** main.ts's bound on any stop: sink.shutdownTimeoutMs + 10 s. */
const BOUND_MS = SHUTDOWN_TIMEOUT_MS + 10_000;

async function deadLetterTopicMaxBytes(world: World, bytes: number): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: world.topics.deadLetters,
          configEntries: [{ name: 'max.message.bytes', value: String(bytes) }],
        },
      ],
    });
  } finally {
    await admin.disconnect();
  }
}

describe('regression: a sink that stopped itself and whose graceful stop hangs', () => {
  let world: World;
  let proc: SinkProcess | null = null;

  beforeAll(async () => {
    world = await createWorld({ records: 2 });
  });

  afterAll(async () => {
    await proc?.kill();
    await deadLetterTopicMaxBytes(world, 16 * 1024 * 1024);
    await world.db('sink_outbox').where({ topic: world.topics.deadLetters }).del();
    await world.close();
  });

  it('when the graceful stop of a self-stop hangs, then the process exits with code 1 within shutdownTimeoutMs + 10 s, saying the exit was forced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pems-sync-self-stop-'));
    const caFile = join(dir, 'sim.pem');
    writeFileSync(caFile, world.sim.cert!);
    const output = join(dir, 'sink.log');
    await deadLetterTopicMaxBytes(world, 64);
    proc = spawnSinkProcess(
      {
        ...world.sinkEnv(caFile),
        PEMS_SYNC_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
        PEMS_SYNC_TEST_STOP_HANG: 'true',
        PEMS_SYNC_LOG_LEVEL: 'error',
      },
      { outputFile: output },
    );
    const producer = testKafka().producer();
    await producer.connect();
    const key = JSON.stringify({ organization_id: world.org, pfa_id: world.records[0]!.pfaId });
    await producer.send({ topic: testEnv.cdcTopic, messages: [{ key, value: '{not json' }] });
    await producer.disconnect();
    let code: number | null = null;
    void proc.exited().then(() => (code = proc!.child.exitCode));
    const read = (): string => (existsSync(output) ? readFileSync(output, 'utf8') : '');

    // The dead letter is recorded, every emit fails, the recorder gives up: the sink stops itself.
    for (const t0 = Date.now(); !read().includes('could not be emitted to Kafka');) {
      if (code !== null) throw new Error(`the sink exited (${code}) before stopping itself:\n${read()}`);
      if (Date.now() - t0 > 180_000) throw new Error(`the sink never stopped itself:\n${read()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const fatalAt = Date.now();
    const recorded = await world.db('dead_letter').where({ organization_id: world.org }).select('error_code');
    expect(recorded.map((r) => r.error_code)).toEqual(['PEMS_SYNC_POISON_EVENT']);

    // The graceful stop hangs; the bound ends the process (before the fix it stayed alive).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([proc.exited(), new Promise((r) => (timer = setTimeout(r, BOUND_MS + 20_000)))]);
    clearTimeout(timer);
    expect({ code, signal: proc.child.signalCode }).toEqual({ code: 1, signal: null });
    expect(Date.now() - fatalAt).toBeLessThan(BOUND_MS + 20_000);
    expect(read()).toContain(
      `the sink stopped itself: the graceful stop did not finish within ${BOUND_MS} ms; forced exit (code 1)`,
    );
  });
});
