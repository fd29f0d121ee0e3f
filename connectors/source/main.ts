/**
 * The read side as a process: the PEMS poller and the mirror stream, from loadConfig().
 *
 *   source deploy/local/env.sh && PEMS_SYNC_CREDENTIAL_KEYS=... npx tsx connectors/source/main.ts
 *
 * Serves /healthz (not crashed), /readyz (producer up and a member of the mirror's consumer
 * group) and /metrics on http.host:http.port. SIGTERM / SIGINT stop both cleanly: the poller
 * finishes the page in flight and stores its cursor, the mirror stream commits what is durable;
 * past sink.shutdownTimeoutMs the process exits anyway (uncommitted work is redone on restart).
 */
import http from 'node:http';
import type { Kafka } from 'kafkajs';
import { createLogger, type Logger } from '../observability/logger';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { checkProductionSecrets, loadConfig, redactConfig, type Config } from '../../schemas/config';
import { createDatabase } from '../postgres/db';
import { parseCredentialKeys, CREDENTIAL_KEYS_ENV } from '../pems/credentials';
import { PemsClientPool } from '../pems/pool';
import { createKafka } from '../kafka/client';
import { PemsPoller } from './poller';
import { MirrorStream } from './mirror-stream';
import { createSourceMetrics } from './metrics';
import { registerReadinessGauge } from '../observability';

/** The read side's Kafka client: `<kafka.clientId>-<suffix>`, kafkajs's log lines in the process's log. */
export function kafkaFromConfig(config: Config, clientSuffix: string, logger: Logger): Kafka {
  return createKafka(config, { clientSuffix, logger });
}

export interface ReadSide {
  poller: PemsPoller;
  mirror: MirrorStream;
  registry: Registry;
  stop(): Promise<void>;
}

/** Builds and starts the read side; the caller owns stop(). */
export async function startReadSide(
  config: Config,
  logger: Logger = createLogger(config.log.level, { component: 'source' }),
): Promise<ReadSide> {
  const db = createDatabase({
    url: config.database.url,
    poolMax: config.database.poolMax,
    applicationName: 'pems-sync-source',
  });
  const kafka = kafkaFromConfig(config, 'source', logger.child({ component: 'kafka' }));
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = createSourceMetrics(registry);
  // The keys are required here (the read side polls every organization): a config error naming the key.
  const clients = PemsClientPool.fromConfig(config, {
    registry,
    keyRing: parseCredentialKeys(config.pems.credentialKeys, CREDENTIAL_KEYS_ENV),
  });
  const poller = new PemsPoller({
    db,
    kafka,
    topic: config.topics.pemsRaw,
    clients,
    pageSize: config.source.pageSize,
    pollIntervalMs: config.source.pollIntervalMs,
    metrics,
    logger: logger.child({ component: 'poller' }),
  });
  const mirror = new MirrorStream({
    kafka,
    db,
    topic: config.topics.pemsRaw,
    deadLetterTopic: config.topics.mirrorDeadLetters,
    groupId: config.source.groupId,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    metrics,
    logger: logger.child({ component: 'mirror' }),
  });
  await mirror.start();
  await poller.start();
  let stopping: Promise<void> | undefined;
  return {
    poller,
    mirror,
    registry,
    stop: () =>
      (stopping ??= (async () => {
        await Promise.allSettled([poller.stop(), mirror.stop()]);
        await clients.close();
        await db.destroy();
      })()),
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  checkProductionSecrets(config);
  const logger = createLogger(config.log.level, { component: 'source' });
  logger.info({ config: redactConfig(config) }, 'starting the read side');
  const side = await startReadSide(config, logger);
  registerReadinessGauge(side.registry, () => side.mirror.ready);
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') return void res.writeHead(200).end('ok');
    if (req.url === '/readyz')
      return void res.writeHead(side.mirror.ready ? 200 : 503).end(side.mirror.ready ? 'ready' : 'not ready');
    if (req.url === '/metrics') {
      void side.registry
        .metrics()
        .then((body) => res.writeHead(200, { 'content-type': side.registry.contentType }).end(body));
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(config.http.port, config.http.host);
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'stopping the read side');
    const timer = setTimeout(() => {
      logger.error(
        { timeoutMs: config.sink.shutdownTimeoutMs },
        'shutdown timed out; exiting with work uncommitted (redone on restart)',
      );
      process.exit(1);
    }, config.sink.shutdownTimeoutMs);
    timer.unref();
    void side
      .stop()
      .then(() => new Promise<void>((r) => server.close(() => r())))
      .then(
        () => process.exit(0),
        (e) => {
          logger.error({ err: e }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
