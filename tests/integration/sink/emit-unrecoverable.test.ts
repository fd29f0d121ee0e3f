/**
 * A sink whose emitter cannot emit any more, whatever it retries (replacing the producer does not
 * help): it must not stay up silently idle. The result topic refuses every record under a running
 * sink (its max.message.bytes lowered below a record's size), so every drain of the outbox fails.
 * The recorder retries the emit with backoff, then the sink stops itself: liveness (/healthz)
 * fails from that moment (an orchestrator restarts it even if stopping hung), the fatal log line
 * says the outcomes are recorded but not emitted and names the transactional id, and the outcome
 * waits in the outbox for the next start, which emits it once the topic takes records again.
 * (A topic that does not exist is not this case: its rows are held and the sink goes on,
 * tests/regression/emit-topic-missing.test.ts.)
 */
import type { Sink } from '../../../connectors/sink';
import { createWorld, type World } from '../../support/world';
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { testKafka } from '../../support/kafka';
import { startWatchedSink } from '../../support/watched-sink';

jest.setTimeout(6 * 60_000);

async function maxMessageBytes(admin: Admin, topic: string, bytes: number): Promise<void> {
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: ConfigResourceTypes.TOPIC,
        name: topic,
        configEntries: [{ name: 'max.message.bytes', value: String(bytes) }],
      },
    ],
  });
}

describe('sink: an emitter that cannot emit any more', () => {
  let world: World;
  let sink: Sink | null = null;

  beforeAll(async () => {
    world = await createWorld({ records: 2 });
  });

  afterAll(async () => {
    await sink?.close();
    await world.close();
  });

  it('when every emit fails, then the sink stops itself, liveness fails at once and the fatal log line says what was not emitted; a restart emits it', async () => {
    const watched = await startWatchedSink(world);
    const { sink: started, lines, fatalSeen } = watched;
    sink = started;
    expect(started.alive()).toBe(true);
    expect((await fetch(`http://127.0.0.1:${started.ops!.port}/healthz`)).status).toBe(200);

    const admin = testKafka().admin();
    await admin.connect();
    try {
      // Below a result record's batch (over 200 bytes) and above a transaction marker's (about 80):
      // the aborted transactions' markers must still be written, or their partition stays locked.
      await maxMessageBytes(admin, world.topics.results, 150);
      const id = await world.commit({ pfaId: world.records[0]!.pfaId, delta: { notes: 'never emitted' } });

      await fatalSeen;
      expect(watched.aliveAtFatal()).toBe(false);
      await started.closed;
      const fatalLines = lines.filter((l) => l.level === 'fatal');
      expect(fatalLines.map((l) => l.msg)).toEqual([expect.stringContaining('could not be emitted to Kafka')]);
      expect(fatalLines[0]!.transactionalId).toBe(`${world.config.kafka.groupId}.emit.0`);
      // Recorded in Postgres; the result record waits in the outbox.
      const rows = await world.waitForOutcome([id]);
      expect(rows.map((r) => r.sync_status)).toEqual(['synced']);
      const left = await world
        .db('sink_outbox')
        .where({ topic: world.topics.results })
        .count<{ n: string }[]>('* as n');
      expect(Number(left[0]!.n)).toBe(1);

      // The topic taking records again, a restarted sink emits what was left.
      await maxMessageBytes(admin, world.topics.results, 16 * 1024 * 1024);
      sink = await world.startSink();
      const [result] = await world.decodeResults(1);
      expect(result).toMatchObject({ modificationId: id, outcome: 'SYNCED' });
    } finally {
      await maxMessageBytes(admin, world.topics.results, 16 * 1024 * 1024);
      await admin.disconnect();
    }
  });
});
