import type { Kafka } from 'kafkajs';
import { MissingTopics, TopicsMissingError, type HeldTopicEvent } from '../../../../connectors/sink/missing-topics';

/** The held-topic bookkeeping; asking the cluster is covered by tests/regression/emit-topic-missing. */
describe('MissingTopics', () => {
  function held(): { missing: MissingTopics; events: HeldTopicEvent[]; rechecks: () => number } {
    const events: HeldTopicEvent[] = [];
    let n = 0;
    const missing = new MissingTopics({
      kafka: {} as Kafka,
      recheck: () => void n++,
      recheckMs: 10,
      onEvent: (e) => events.push(e),
    });
    return { missing, events, rechecks: () => n };
  }

  it('when a topic is held, counted again and released, then each change is reported once and readiness says why', () => {
    const { missing, events } = held();
    expect(missing.describe()).toBeNull();
    missing.hold(
      ['t.gone'],
      [
        { topic: 't.gone', rows: 2 },
        { topic: 't.ok', rows: 5 },
      ],
    );
    missing.hold(['t.gone'], [{ topic: 't.gone', rows: 2 }]);
    missing.hold(['t.gone'], [{ topic: 't.gone', rows: 3 }]);
    expect(missing.has('t.gone')).toBe(true);
    expect(missing.has('t.ok')).toBe(false);
    expect(missing.describe()).toBe('topic t.gone does not exist on the Kafka cluster: 3 outbox records wait for it');
    missing.release('t.gone', 3);
    missing.release('t.gone', 3);
    expect(events).toEqual([
      { topic: 't.gone', state: 'missing', records: 2 },
      { topic: 't.gone', state: 'waiting', records: 3 },
      { topic: 't.gone', state: 'back', records: 3 },
    ]);
    expect(missing.describe()).toBeNull();
    missing.close();
  });

  it('when topics are held, then rechecks run until the last is released, and never after close', async () => {
    const { missing, rechecks } = held();
    missing.hold(['a', 'b'], []);
    await new Promise((r) => setTimeout(r, 60));
    expect(rechecks()).toBeGreaterThan(0);
    missing.release('a', 0);
    missing.release('b', 0);
    const after = rechecks();
    await new Promise((r) => setTimeout(r, 60));
    expect(rechecks()).toBe(after);
    missing.close();
    missing.hold(['c'], []);
    await new Promise((r) => setTimeout(r, 60));
    expect(rechecks()).toBe(after);
  });

  it('when a drain failed with TopicsMissingError, then its topics are the missing ones without asking the cluster', async () => {
    const { missing } = held();
    await expect(missing.missingOf(new TopicsMissingError(['x']), new Set(['x', 'y']))).resolves.toEqual(['x']);
  });
});
