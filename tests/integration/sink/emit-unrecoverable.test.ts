/**
 * A sink whose emitter cannot emit any more, whatever it retries (replacing the producer does not
 * help): it must not stay up silently idle. The result topic is deleted under a running sink, so
 * every drain of the outbox fails (the producer does not create topics). The recorder retries
 * the emit with backoff, then the sink stops itself: liveness (/healthz) fails from that moment
 * (an orchestrator restarts it even if stopping hung), the fatal log line says the outcomes are
 * recorded but not emitted and names the transactional id, and the outcome waits in the outbox
 * for the next start, which emits it once the topic is back.
 */
import type { Sink } from '../../../connectors/sink';
import { createWorld, type World } from '../../support/world';
import { testKafka } from '../../support/kafka';
import { startWatchedSink } from '../../support/watched-sink';

jest.setTimeout(6 * 60_000);

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
      await admin.deleteTopics({ topics: [world.topics.results] });
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

      // The topic back, a restarted sink emits what was left.
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: world.topics.results, numPartitions: 1 }] });
      sink = await world.startSink();
      const [result] = await world.decodeResults(1);
      expect(result).toMatchObject({ modificationId: id, outcome: 'SYNCED' });
    } finally {
      // Never leave the topic deleted: an outbox row for a missing topic fails every sink's start.
      const topics = await admin.listTopics();
      if (!topics.includes(world.topics.results))
        await admin.createTopics({ waitForLeaders: true, topics: [{ topic: world.topics.results, numPartitions: 1 }] });
      await admin.disconnect();
    }
  });
});
