/**
 * The control API as its own process: config from the environment (schemas/config.ts), the
 * HTTP API on controlApi.host:port, and the operator webhook dispatcher when
 * controlApi.webhookUrls is set, and on http.host:http.port the ops endpoints whose /metrics
 * carries the per-organization figures the alert rules read (connectors/observability/
 * sync-health-metrics.ts). SIGTERM/SIGINT close them and the database.
 *
 *   npx tsx connectors/control-api/main.ts
 */
import { Registry } from 'prom-client';
import { createLogger, createSyncHealthMetrics, startOpsServer } from '../observability';
import { createKafka } from '../kafka/client';
import { loadConfig, redactConfig } from '../../schemas/config';
import { auditKeyRing } from '../postgres/audit';
import { createDatabase } from '../postgres/db';
import { publishCheckpoints } from './audit-checkpoints';
import { buildControlApi } from './server';
import { IdempotentProducer } from '../kafka/idempotent-producer';
import { WebhookDispatcher } from './webhooks';

async function main(): Promise<void> {
  const config = loadConfig();
  const db = createDatabase({
    url: config.database.url,
    poolMax: config.database.poolMax,
    applicationName: 'pems-sync-control-api',
  });
  const kafka = createKafka(config, {
    clientSuffix: 'control-api',
    logger: createLogger(config.log.level, { component: 'control-api-kafka' }),
  });
  const app = buildControlApi({ db, config, kafka });
  app.log.info({ config: redactConfig(config) }, 'control API starting');
  const dispatcher = new WebhookDispatcher({
    db,
    urls: config.controlApi.webhookUrls,
    onError: (err) => app.log.error({ err }, 'webhook dispatch round failed'),
  });
  await app.listen({ host: config.controlApi.host, port: config.controlApi.port });
  dispatcher.start();
  const registry = new Registry();
  const syncHealth = createSyncHealthMetrics(registry, {
    db,
    rateLimitPerSecond: config.pems.rateLimitPerSecond,
    onError: (err) => app.log.error({ err }, 'reading the per-organization figures failed'),
  });
  const ops = await startOpsServer({
    host: config.http.host,
    port: config.http.port,
    registry,
    liveness: () => true,
    readiness: () => ({ ready: true, checks: { api: true } }),
  });
  app.log.info({ opsPort: ops.port }, 'control API ops endpoints listening');
  // Signed audit chain heads on the compacted checkpoint topic: the anchor outside Postgres.
  const ring = auditKeyRing();
  // Replaced after a failed send (../kafka/idempotent-producer.ts), so a lost answer cannot stop the checkpoints.
  const checkpointProducer = ring ? new IdempotentProducer(kafka) : undefined;
  let checkpointTimer: NodeJS.Timeout | undefined;
  if (ring && checkpointProducer) {
    await checkpointProducer.connect();
    const tick = (): void => {
      publishCheckpoints(db, checkpointProducer, config.audit.checkpointTopic, ring).catch((err) =>
        app.log.error({ err }, 'audit checkpoint round failed'),
      );
    };
    tick();
    checkpointTimer = setInterval(tick, config.audit.checkpointIntervalMs);
  }

  let closing: Promise<void> | undefined;
  const shutdown = (signal: string): Promise<void> =>
    (closing ??= (async () => {
      app.log.info({ signal }, 'control API stopping');
      // Keep going past a failing step.
      syncHealth.stop();
      clearInterval(checkpointTimer);
      await Promise.allSettled([dispatcher.close(), ops.close(), checkpointProducer?.disconnect()]);
      await Promise.allSettled([app.close()]);
      await Promise.allSettled([db.destroy()]);
    })());
  for (const s of ['SIGTERM', 'SIGINT'] as const) {
    process.once(s, () => {
      void shutdown(s).then(() => process.exit(0));
    });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
