/** Entry point of the sink process: `tsx connectors/sink/main.ts` (or node dist/connectors/sink/main.js). */
import { checkProductionSecrets, loadConfig } from '../../schemas/config';
import { startTracing } from '../observability';
import { startSink } from './index';

async function main(): Promise<void> {
  const config = loadConfig();
  checkProductionSecrets(config);
  const stopTracing = await startTracing(config.otel);
  const sink = await startSink(config, {
    onFatal: () => {
      process.exitCode = 1;
    },
  });
  // A sink that stopped itself (outcomes could not be recorded) exits so a supervisor restarts it.
  void sink.closed.then(() => process.exit(process.exitCode ?? 0));
  const shutdown = (signal: string): void => {
    process.stderr.write(`${signal}: draining in-flight work (at most ${config.sink.shutdownTimeoutMs} ms)\n`);
    const hard = setTimeout(() => process.exit(1), config.sink.shutdownTimeoutMs + 10_000);
    hard.unref();
    void sink
      .close()
      .then(stopTracing)
      .then(() => process.exit(process.exitCode ?? 0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  // Config errors name the key; nothing else about the config is printed (secrets).
  process.stderr.write(`pems-sync sink failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
