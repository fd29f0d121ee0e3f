/** Where the integration tests find the real services (deploy/local/env.sh sets these). */
export const testEnv = {
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://pems_sync:pems_sync_local@127.0.0.1:5432/pems_sync',
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  connectUrl: process.env.KAFKA_CONNECT_URL ?? 'http://127.0.0.1:8083',
  cdcTopic: `${process.env.CDC_TOPIC_PREFIX ?? 'vanguard'}.public.pfa_modification`,
};

/** A short unique suffix so every test gets its own organization, topic and group. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`.toUpperCase();
}
