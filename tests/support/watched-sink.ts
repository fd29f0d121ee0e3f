/**
 * An in-process sink whose fatal stop a test can watch: its warn-level log lines captured, a
 * promise of the error it stopped itself on, and whether liveness had already failed when
 * onFatal ran. Resolves once the sink is in its consumer group.
 */
import type { DestinationStream } from 'pino';
import { startSink, type Sink, type SinkOptions } from '../../connectors/sink';
import { createLogger } from '../../connectors/observability';
import type { World } from './world';

export interface WatchedSink {
  sink: Sink;
  /** The sink's log lines (warn and above), parsed. */
  lines: Array<Record<string, unknown>>;
  /** The error the sink stopped itself on. */
  fatalSeen: Promise<unknown>;
  /** sink.alive() as it was when onFatal ran; null before. */
  aliveAtFatal(): boolean | null;
}

export async function startWatchedSink(world: World, extra: Partial<SinkOptions> = {}): Promise<WatchedSink> {
  const lines: Array<Record<string, unknown>> = [];
  const capture: DestinationStream = { write: (line: string) => void lines.push(JSON.parse(line)) };
  let aliveAtFatal: boolean | null = null;
  let fatal: (err: unknown) => void = () => undefined;
  const fatalSeen = new Promise<unknown>((r) => (fatal = r));
  const sink: Sink = await startSink(world.config, {
    clientOverrides: { ca: world.sim.cert },
    logger: createLogger('warn', { test: world.org }, capture),
    ...extra,
    onFatal: (err) => {
      aliveAtFatal = sink.alive();
      fatal(err);
    },
  });
  for (const t0 = Date.now(); !sink.task.ready().ready;) {
    if (Date.now() - t0 > 30_000) throw new Error('sink did not join its consumer group');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { sink, lines, fatalSeen, aliveAtFatal: () => aliveAtFatal };
}
