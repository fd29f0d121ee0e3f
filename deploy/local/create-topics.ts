/** Creates every declared topic that does not exist yet (idempotent). */
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { topicSpecs } from '../../schemas/topics';

async function main(): Promise<void> {
  const kafka = new Kafka({
    clientId: 'pems-sync-setup',
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    logLevel: logLevel.WARN,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topicSpecs().filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: 1,
          configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    // Topic configs are kept in step for topics that already exist (idempotent).
    const withConfig = topicSpecs().filter((t) => existing.has(t.name) && t.config && Object.keys(t.config).length > 0);
    if (withConfig.length > 0) {
      await admin.alterConfigs({
        validateOnly: false,
        resources: withConfig.map((t) => ({
          type: ConfigResourceTypes.TOPIC,
          name: t.name,
          configEntries: Object.entries(t.config!).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    console.log(`topics: created ${missing.map((t) => t.name).join(', ') || 'none (all exist)'}`);
  } finally {
    await admin.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
