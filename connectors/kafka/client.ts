/**
 * The one way a process builds its Kafka client: brokers, TLS and SASL from `Config.kafka`, the
 * client id `kafka.clientId` (plus a suffix naming the process), and kafkajs's own log lines
 * routed into the process's pino logger.
 *
 * kafkajs reports conditions it retries by itself (a coordinator still loading, a transaction
 * still ending (CONCURRENT_TRANSACTIONS), a group rebalancing, a leader moving) at ERROR; they are
 * not errors of ours, so they are logged at debug like its retries. Without a logger kafkajs
 * logs nothing (the CLI: errors reach the command as exceptions).
 */
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import './request-queue-timer'; // kafkajs's idle 1 ms timer loop, fixed before any client exists
import type { Logger } from '../observability/logger';
import type { Config } from '../../schemas/config';

/** kafkajs messages for conditions it retries itself. */
export const RETRIED_BY_KAFKAJS =
  /coordinator is loading|another concurrent operation on the same transaction|coordinator is not available|not the coordinator|not the correct coordinator|rebalanc|leadership election|not the leader|KAFKAJS_NO_PARTITIONER_WARNING|switched default partitioner/i;

export interface KafkaClientOptions {
  /** Appended to kafka.clientId as `<clientId>-<suffix>`; absent: kafka.clientId as it is. */
  clientSuffix?: string;
  /** Where kafkajs's log lines go; absent or null: nowhere (logLevel NOTHING). */
  logger?: Logger | null;
  /** kafkajs's retry options (the CLI: 3 retries). */
  retry?: KafkaConfig['retry'];
}

/** The pino level one kafkajs log entry is written at. */
export function kafkaLogLevel(
  level: logLevel,
  entry: Pick<LogEntry['log'], 'message'> & { error?: unknown },
): 'error' | 'warn' | 'debug' {
  if (RETRIED_BY_KAFKAJS.test(`${entry.message} ${String(entry.error ?? '')}`)) return 'debug';
  if (level <= logLevel.ERROR) return 'error';
  return level === logLevel.WARN ? 'warn' : 'debug';
}

export function createKafka(config: Pick<Config, 'kafka'>, options: KafkaClientOptions = {}): Kafka {
  const k = config.kafka;
  const sasl: SASLOptions | undefined =
    k.saslMechanism === ''
      ? undefined
      : ({ mechanism: k.saslMechanism, username: k.saslUsername, password: k.saslPassword } as SASLOptions);
  const logger = options.logger ?? null;
  return new Kafka({
    clientId: options.clientSuffix ? `${k.clientId}-${options.clientSuffix}` : k.clientId,
    brokers: k.brokers,
    ssl: k.ssl,
    sasl,
    retry: options.retry,
    logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
    logCreator: logger
      ? () =>
          ({ level, log }) => {
            const { message, ...extra } = log;
            logger[kafkaLogLevel(level, { message, error: (extra as { error?: unknown }).error })](
              { kafkajs: extra },
              message,
            );
          }
      : undefined,
  });
}
