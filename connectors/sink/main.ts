/** Entry point of the sink process: `tsx connectors/sink/main.ts` (or node dist/connectors/sink/main.js). */
import { checkProductionSecrets, loadConfig } from '../../schemas/config';
import { startTracing } from '../observability';
import { startSink } from './index';

let hardExit: NodeJS.Timeout | null = null;

/**
 * Bounds a stop, whoever began it (a signal, or the sink stopping itself): if the graceful stop
 * has not finished after `ms` (a step hanging on an unreachable Postgres or Kafka), the process
 * exits 1 anyway, saying so, so that a supervisor sees it gone rather than alive and idle.
 */
function exitWithin(ms: number, why: string): void {
  hardExit ??= setTimeout(() => {
    process.stderr.write(`${why}: the graceful stop did not finish within ${ms} ms; forced exit (code 1)\n`);
    process.exit(1);
  }, ms);
  hardExit.unref();
}

async function main(): Promise<void> {
  const config = loadConfig();
  checkProductionSecrets(config);
  const stopTracing = await startTracing(config.otel);
  const bound = config.sink.shutdownTimeoutMs + 10_000;
  const sink = await startSink(config, {
    onFatal: () => {
      process.exitCode = 1;
      exitWithin(bound, 'the sink stopped itself');
    },
  });
  // However it stopped, the process exits: one that stopped itself (outcomes could not be
  // recorded, the consumer crashed for good) exits non-zero so that a supervisor restarts it.
  void sink.closed.then(stopTracing).then(() => process.exit(process.exitCode ?? 0));
  const shutdown = (signal: string): void => {
    process.stderr.write(`${signal}: draining in-flight work (at most ${config.sink.shutdownTimeoutMs} ms)\n`);
    exitWithin(bound, signal);
    void sink.close();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  // Config errors name the key; nothing else about the config is printed (secrets).
  process.stderr.write(`pems-sync sink failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
