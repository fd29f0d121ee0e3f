/**
 * A sink whose consumer kafkajs will not restart (it crashed on a TypeError, RangeError,
 * ReferenceError or SyntaxError, which kafkajs never retries) must not stay up consuming nothing.
 * It stops itself: liveness fails at once, the fatal log line says why, the process exits
 * (main.ts) so that any supervisor restarts it, not only one that probes /healthz. The edit it
 * did not take is still committed and a restarted sink syncs it.
 */
import type { Sink } from '../../../connectors/sink';
import { createWorld, type World } from '../../support/world';
import { startWatchedSink } from '../../support/watched-sink';

jest.setTimeout(3 * 60_000);

describe('sink: a consumer that crashed for good', () => {
  let world: World;
  let sink: Sink | null = null;

  beforeAll(async () => {
    world = await createWorld({ records: 2 });
  });

  afterAll(async () => {
    await sink?.close();
    await world.close();
  });

  it('when the consumer crashes on an error kafkajs does not restart it after, then the sink stops itself and a restarted sink syncs the edit', async () => {
    let thrown = 0;
    const watched = await startWatchedSink(world, {
      taskHooks: {
        beforeBatch: () => {
          thrown++;
          throw new TypeError('request is not a function');
        },
      },
    });
    const { sink: started, lines, fatalSeen } = watched;
    sink = started;
    expect(started.alive()).toBe(true);

    const id = await world.commit({ pfaId: world.records[0]!.pfaId, delta: { notes: 'taken after the restart' } });
    const err = await fatalSeen;
    expect(String(err)).toContain('request is not a function');
    expect(watched.aliveAtFatal()).toBe(false);
    await started.closed;
    expect(thrown).toBe(1);
    expect(lines.filter((l) => l.level === 'fatal').map((l) => l.msg)).toEqual([
      expect.stringContaining('the consumer stopped on an error kafkajs does not restart it after'),
    ]);
    const waiting = await world.db('pfa_modification').where({ id }).first('sync_status');
    expect(waiting.sync_status).toBe('committed');

    sink = await world.startSink();
    const rows = await world.waitForOutcome([id]);
    expect(rows.map((r) => r.sync_status)).toEqual(['synced']);
  });
});
