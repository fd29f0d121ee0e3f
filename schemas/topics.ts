/**
 * Every Kafka topic pems-sync reads or writes, with its partitioning. Created explicitly at
 * setup (deploy/local/create-topics.ts) so partition counts never depend on broker
 * auto-creation, and so consumers can subscribe before the first event exists.
 */
import { SETTINGS } from './config';

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Why the topic exists, for operators. */
  description: string;
  config?: Record<string, string>;
}

/** The config keys (schemas/config.ts) that name a topic: the names and their defaults are declared there only. */
const TOPIC_SETTINGS = {
  cdc: 'topics.cdc',
  results: 'topics.results',
  deadLetters: 'topics.deadLetters',
  pemsRaw: 'topics.pemsRaw',
  mirrorDeadLetters: 'topics.mirrorDeadLetters',
  auditCheckpoints: 'audit.checkpointTopic',
} as const satisfies Record<string, keyof typeof SETTINGS>;

export type TopicNames = Record<keyof typeof TOPIC_SETTINGS, string>;

/**
 * Every topic name as the processes' Config reads it (the setting's variable, else its default),
 * without loading the rest of the configuration (topic creation runs before any secret is set).
 * The CDC topic follows Debezium's topic.prefix (CDC_TOPIC_PREFIX) when PEMS_SYNC_CDC_TOPIC is unset.
 */
export function topicNames(env: NodeJS.ProcessEnv = process.env): TopicNames {
  const out = {} as TopicNames;
  for (const [name, key] of Object.entries(TOPIC_SETTINGS) as Array<[keyof TopicNames, keyof typeof SETTINGS]>) {
    const s = SETTINGS[key] as { env: string; default?: unknown };
    out[name] = env[s.env] ?? String(s.default);
  }
  if (env[SETTINGS['topics.cdc'].env] === undefined && env.CDC_TOPIC_PREFIX) {
    out.cdc = `${env.CDC_TOPIC_PREFIX}.${String(SETTINGS['topics.cdc'].default).split('.').slice(1).join('.')}`;
  }
  return out;
}

export function topicSpecs(env: NodeJS.ProcessEnv = process.env): TopicSpec[] {
  const n = topicNames(env);
  const partitions = Number(env.KAFKA_PARTITIONS ?? 6);
  // A modification with an oversized delta (a 5 MB note) must reach the sink to be dead-lettered
  // with its reason, not stop Debezium with RecordTooLargeException: the CDC and dead-letter
  // topics take records up to 16 MiB (the sink refuses deltas over sink.maxDeltaBytes).
  const large = { 'max.message.bytes': String(16 * 1024 * 1024) };
  return [
    {
      name: n.cdc,
      partitions,
      description: 'Debezium change events of pfa_modification, keyed by organization + PFA id',
      config: large,
    },
    { name: n.results, partitions, description: 'one Avro SyncResult per modification outcome' },
    {
      name: n.deadLetters,
      partitions,
      description: 'events the sink could not process, with __connect.errors.* headers',
      config: large,
    },
    { name: n.pemsRaw, partitions, description: 'PEMS records as received by the source connector (bronze)' },
    { name: n.mirrorDeadLetters, partitions, description: 'PEMS records the mirror stream refused' },
    {
      name: n.auditCheckpoints,
      partitions: 1,
      description: 'signed audit chain head per organization (compacted): the anchor outside Postgres',
      config: { 'cleanup.policy': 'compact' },
    },
  ];
}
