/**
 * Every Kafka topic pems-sync reads or writes, with its partitioning. Created explicitly at
 * setup (deploy/local/create-topics.ts) so partition counts never depend on broker
 * auto-creation, and so consumers can subscribe before the first event exists.
 */
export interface TopicSpec {
  name: string;
  partitions: number;
  /** Why the topic exists, for operators. */
  description: string;
  config?: Record<string, string>;
}

export function topicNames(env: NodeJS.ProcessEnv = process.env): {
  cdc: string;
  results: string;
  deadLetters: string;
  pemsRaw: string;
  mirrorDeadLetters: string;
  auditCheckpoints: string;
} {
  const prefix = env.CDC_TOPIC_PREFIX ?? 'vanguard';
  return {
    cdc: env.PEMS_SYNC_CDC_TOPIC ?? `${prefix}.public.pfa_modification`,
    results: env.PEMS_SYNC_RESULT_TOPIC ?? 'pems-sync.results',
    deadLetters: env.PEMS_SYNC_DLQ_TOPIC ?? 'pems-sync.dead-letters',
    pemsRaw: env.PEMS_SYNC_RAW_TOPIC ?? 'pems.pfa.raw',
    mirrorDeadLetters: env.PEMS_SYNC_MIRROR_DLQ_TOPIC ?? 'pems.pfa.raw.dead-letters',
    auditCheckpoints: env.PEMS_SYNC_AUDIT_CHECKPOINT_TOPIC ?? 'pems-sync.audit-checkpoints',
  };
}

export function topicSpecs(env: NodeJS.ProcessEnv = process.env): TopicSpec[] {
  const n = topicNames(env);
  const partitions = Number(env.KAFKA_PARTITIONS ?? 6);
  // A modification with an oversized delta (a 5 MB note) must reach the sink to be dead-lettered
  // with its reason, not stop Debezium with RecordTooLargeException: the CDC and dead-letter
  // topics take records up to 16 MiB (the sink refuses deltas over sink.maxDeltaBytes).
  const large = { 'max.message.bytes': String(16 * 1024 * 1024) };
  return [
    { name: n.cdc, partitions, description: 'Debezium change events of pfa_modification, keyed by organization + PFA id', config: large },
    { name: n.results, partitions, description: 'one Avro SyncResult per modification outcome' },
    { name: n.deadLetters, partitions, description: 'events the sink could not process, with __connect.errors.* headers', config: large },
    { name: n.pemsRaw, partitions, description: 'PEMS records as received by the source connector (bronze)' },
    { name: n.mirrorDeadLetters, partitions, description: 'PEMS records the mirror stream refused' },
    { name: n.auditCheckpoints, partitions: 1, description: 'signed audit chain head per organization (compacted): the anchor outside Postgres', config: { 'cleanup.policy': 'compact' } },
  ];
}
