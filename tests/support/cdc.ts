/**
 * Waiting for Debezium: a test that must have several change events in the CDC topic before a
 * sink fetches them (so the sink sees them in one batch, as after a restart with a backlog) counts
 * the topic's end offsets before its commits and waits until they grew by the events it made.
 */
import { testEnv } from './env';
import { testKafka } from './kafka';

export async function cdcEnd(): Promise<number> {
  const admin = testKafka('cdc-offsets').admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(testEnv.cdcTopic);
    return ends.reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Resolves once the CDC topic holds at least `events` more events than at `from` (cdcEnd()). */
export async function waitForCdcEvents(from: number, events: number, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const now = await cdcEnd();
    if (now - from >= events) return;
    if (Date.now() - started > timeoutMs)
      throw new Error(`CDC topic grew by ${now - from} events in ${timeoutMs} ms, expected ${events}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
