/**
 * Topics the emitter holds back: outbox rows name their topic, and one that does not exist on the
 * cluster (deleted by an operator, or a topic renamed in config; brokers do not auto-create) cannot
 * be produced to. Its rows stay in the outbox, never deleted unemitted, and are left out of every
 * drain, so the rows of other topics keep flowing; the emitter checks the held topics again every
 * few seconds and emits their rows, oldest first, once a topic exists again. This file keeps the
 * held topics and asks the cluster which topics exist; emit.ts decides when.
 */
import type { Kafka } from 'kafkajs';

/** A held topic: since when, and how many outbox rows wait for it (last counted). */
export interface HeldTopic {
  since: Date;
  records: number;
}

/** What the sink reports (log line, metric): a topic found missing, rows counted again, a topic back. */
export interface HeldTopicEvent {
  topic: string;
  state: 'missing' | 'waiting' | 'back';
  /** missing, waiting: rows waiting for it; back: rows emitted now that it exists again. */
  records: number;
}

/** Thrown inside a drain's Postgres transaction (rolling it back) when its rows name missing topics. */
export class TopicsMissingError extends Error {
  readonly code = 'PEMS_SYNC_TOPICS_MISSING';
  readonly retriable = false;
  constructor(readonly topics: readonly string[]) {
    super(`topics not on the Kafka cluster: ${topics.join(', ')}`);
    this.name = 'TopicsMissingError';
  }
}

/** Which of `topics` the cluster has (one metadata request for all topics). */
async function topicsOnCluster(kafka: Kafka, topics: Iterable<string>): Promise<Set<string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const all = new Set(await admin.listTopics());
    return new Set([...topics].filter((t) => all.has(t)));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export class MissingTopics {
  private readonly held = new Map<string, HeldTopic>();
  /** Topics seen on the cluster: a drain asks the cluster only about topics not seen yet. */
  private readonly known = new Set<string>();

  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  /** `recheck` runs every `recheckMs` while a topic is held. */
  constructor(
    private readonly opts: {
      kafka: Kafka;
      recheck: () => void;
      recheckMs: number;
      onEvent?: (event: HeldTopicEvent) => void;
    },
  ) {}

  /** Which of `topics` the cluster has (remembered as seen). */
  async present(topics: Iterable<string>): Promise<Set<string>> {
    const present = await topicsOnCluster(this.opts.kafka, topics);
    for (const t of present) this.known.add(t);
    return present;
  }

  /**
   * Throws TopicsMissingError for those of `topics` that are not on the cluster; asks it only about
   * topics not seen there yet, so a drain pays nothing for topics it produced to before.
   */
  async check(topics: Iterable<string>): Promise<void> {
    const unknown = [...topics].filter((t) => !this.known.has(t));
    if (unknown.length === 0) return;
    const present = await this.present(unknown);
    const absent = unknown.filter((t) => !present.has(t));
    if (absent.length > 0) throw new TopicsMissingError(absent);
  }

  /** Of the topics a failed drain tried, those the cluster does not have (none when it cannot be asked). */
  async missingOf(err: unknown, tried: Set<string>): Promise<readonly string[]> {
    if (err instanceof TopicsMissingError) return err.topics;
    return this.present(tried).then(
      (present) => [...tried].filter((t) => !present.has(t)),
      () => [],
    );
  }

  has(topic: string): boolean {
    return this.held.has(topic);
  }

  /** The held topics, oldest hold first. */
  list(): ReadonlyMap<string, HeldTopic> {
    return this.held;
  }

  /** Holds `topics` back (their rows stay in the outbox); `left`: the outbox's rows per topic. */
  hold(topics: readonly string[], left: ReadonlyArray<{ topic: string; rows: number }>): void {
    for (const topic of topics) {
      const records = left.find((l) => l.topic === topic)?.rows ?? 0;
      this.known.delete(topic);
      const was = this.held.get(topic);
      this.held.set(topic, { since: was?.since ?? new Date(), records });
      if (!was) this.opts.onEvent?.({ topic, state: 'missing', records });
      else if (was.records !== records) this.opts.onEvent?.({ topic, state: 'waiting', records });
    }
    if (this.held.size > 0 && !this.closed) this.timer ??= setInterval(this.opts.recheck, this.opts.recheckMs).unref();
  }

  /** `topic` exists again and the `emitted` rows that waited for it are on it. */
  release(topic: string, emitted: number): void {
    if (!this.held.delete(topic)) return;
    this.known.add(topic);
    this.opts.onEvent?.({ topic, state: 'back', records: emitted });
    if (this.held.size === 0) this.stopRechecks();
  }

  private stopRechecks(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops the rechecks for good (the emitter closing). */
  close(): void {
    this.closed = true;
    this.stopRechecks();
  }

  /** For readiness: what is held and why, or null when nothing is. */
  describe(): string | null {
    if (this.held.size === 0) return null;
    return [...this.held]
      .map(([t, h]) => `topic ${t} does not exist on the Kafka cluster: ${h.records} outbox records wait for it`)
      .join('; ');
  }
}
