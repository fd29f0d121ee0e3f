/**
 * The per-stage breakdown of issue 16, measured from outside the sink: for every modification
 * of a run, the time it was
 *   committed      pfa_modification.committed_at
 *   on the CDC topic   the Kafka timestamp of its op c change event (read back after the run)
 *   sent           the simulator received the request that applied it (write log receivedAt)
 *   acknowledged   the simulator sent that request's answer (write log answeredAt)
 *   recorded       its status row's synced_at
 *   result         the Kafka timestamp of its result record (read_committed)
 * and the CDC events per modification (op c, the claim's op d, tombstones, anything else).
 * Writes are matched to modifications by (pfa_id, pems_version_after): the version a write
 * produced is the version its modifications record.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { BenchOrg } from './setup';
import { cdcTopic } from './setup';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export const STAGES = [
  'commit→cdc',
  'cdc→sent',
  'sent→acknowledged',
  'acknowledged→recorded',
  'recorded→result',
  'commit→acknowledged',
  'commit→result',
] as const;
export type Stage = (typeof STAGES)[number];

export interface StageReport {
  /** Seconds per stage, percentiles over every synced modification that has both ends. */
  stages: Record<Stage, Percentiles>;
  cdcEvents: {
    create: number;
    update: number;
    delete: number;
    tombstone: number;
    other: number;
    perModification: number;
  };
  resultRecords: number;
}

export function percentiles(values: number[]): Percentiles {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number): number =>
    v.length === 0 ? 0 : Number(v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)]!.toFixed(3));
  return { n: v.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), p999: at(0.999), max: at(1) };
}

/** Reads a topic's partitions from the given offsets (the run's start) to their high watermark now. */
async function readRange(
  topic: string,
  from: Map<number, string> | 'beginning',
  each: (m: { key: Buffer | null; value: Buffer | null; timestamp: string }) => Promise<void> | void,
  enough: () => boolean = () => false,
): Promise<void> {
  const kafka = new Kafka({ clientId: 'bench-stages', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map<number, bigint>();
  for (const p of ends) {
    const start = from === 'beginning' ? BigInt(p.low) : BigInt(from.get(p.partition) ?? p.low);
    if (BigInt(p.high) > start) remaining.set(p.partition, BigInt(p.high));
  }
  if (remaining.size === 0) return;
  const consumer: Consumer = kafka.consumer({
    groupId: `bench-stages-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    readUncommitted: false,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void = () => undefined;
    const finished = new Promise<void>((r) => (done = r));
    let last = Date.now();
    let started = false;
    void consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        started = true;
        last = Date.now();
        for (const m of batch.messages) {
          await each(m);
          last = Date.now();
        }
        const end = remaining.get(batch.partition);
        // Transaction markers take offsets too: the batch's last offset + 1 reaching high is the end.
        if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) remaining.delete(batch.partition);
        if (remaining.size === 0 || enough()) done();
      },
    });
    if (from !== 'beginning') for (const [partition, offset] of from) consumer.seek({ topic, partition, offset });
    // The last records of a read_committed partition may be control markers: stop when idle too
    // (idle since the last message, or 60 s for the group join and first fetch on a loaded machine).
    while (remaining.size > 0 && !enough() && Date.now() - last < (started ? 5_000 : 60_000))
      await Promise.race([finished, new Promise((r) => setTimeout(r, 250))]);
  } finally {
    await consumer.disconnect();
  }
}

interface ModRow {
  id: string;
  pfa_id: string;
  committed_at: Date;
  synced_at: Date | null;
  pems_version_after: number | null;
}

export async function stageReport(b: BenchOrg, cdcStart: Map<number, string>): Promise<StageReport> {
  const cdcAt = new Map<string, number>();
  const events = { create: 0, update: 0, delete: 0, tombstone: 0, other: 0 };
  const orgs = new Set(b.orgs);
  await readRange(cdcTopic, cdcStart, (m) => {
    const key = m.key ? (JSON.parse(m.key.toString()) as { organization_id?: string }) : {};
    if (!orgs.has(key.organization_id ?? '')) return;
    if (!m.value) {
      events.tombstone += 1;
      return;
    }
    const v = JSON.parse(m.value.toString()) as {
      op?: string;
      after?: { id?: number | string } | null;
      payload?: unknown;
    };
    if (v.op === 'c' || v.op === 'r') {
      events.create += 1;
      if (v.after?.id !== undefined) cdcAt.set(String(v.after.id), Number(m.timestamp));
    } else if (v.op === 'u') events.update += 1;
    else if (v.op === 'd') events.delete += 1;
    else events.other += 1;
  });
  const expected = Number(
    ((await b.db('pfa_modification').whereIn('organization_id', b.orgs).count('* as n').first()) as { n: string }).n,
  );
  const registry = new SchemaRegistry({ host: registryUrl });
  const resultAt = new Map<string, number>();
  let resultRecords = 0;
  await readRange(
    b.topics.results,
    'beginning',
    async (m) => {
      if (!m.value) return;
      resultRecords += 1;
      const id = String(((await registry.decode(m.value)) as { modificationId: string }).modificationId);
      if (!resultAt.has(id)) resultAt.set(id, Number(m.timestamp));
    },
    () => resultAt.size >= expected,
  );
  const writes = new Map<string, { sent: number; acknowledged: number }>();
  for (const w of b.sim.control.writeLog().writes) {
    if (w.receivedAt && w.answeredAt)
      writes.set(`${w.pfaId}@${w.version}`, { sent: Date.parse(w.receivedAt), acknowledged: Date.parse(w.answeredAt) });
  }
  const mods = (await b
    .db('pfa_modification')
    .whereIn('organization_id', b.orgs)
    .where({ sync_status: 'synced' })
    .select('id', 'pfa_id', 'committed_at', 'synced_at', 'pems_version_after')) as ModRow[];
  const samples: Record<Stage, number[]> = Object.fromEntries(
    STAGES.map((s) => [s, [] as number[]]),
  ) as unknown as Record<Stage, number[]>;
  const add = (s: Stage, from: number | undefined, to: number | undefined): void => {
    if (from !== undefined && to !== undefined && Number.isFinite(from) && Number.isFinite(to))
      samples[s].push((to - from) / 1000);
  };
  for (const m of mods) {
    const committed = new Date(m.committed_at).getTime();
    const cdc = cdcAt.get(String(m.id));
    const w = writes.get(`${m.pfa_id}@${m.pems_version_after}`);
    const recorded = m.synced_at ? new Date(m.synced_at).getTime() : undefined;
    const result = resultAt.get(String(m.id));
    add('commit→cdc', committed, cdc);
    add('cdc→sent', cdc, w?.sent);
    add('sent→acknowledged', w?.sent, w?.acknowledged);
    add('acknowledged→recorded', w?.acknowledged, recorded);
    add('recorded→result', recorded, result);
    add('commit→acknowledged', committed, w?.acknowledged);
    add('commit→result', committed, result);
  }
  const total = mods.length || 1;
  return {
    stages: Object.fromEntries(STAGES.map((s) => [s, percentiles(samples[s])])) as Record<Stage, Percentiles>,
    cdcEvents: {
      ...events,
      perModification: Number(
        ((events.create + events.update + events.delete + events.tombstone + events.other) / total).toFixed(2),
      ),
    },
    resultRecords,
  };
}

/** The side-by-side table of stage percentiles (ms), one row per stage. */
export function stageTable(label: string, r: StageReport): string {
  const ms = (s: number): string => String(Math.round(s * 1000));
  const lines = [
    `\nstages (${label}), ms over every synced modification; CDC events per modification ${r.cdcEvents.perModification} (${JSON.stringify(r.cdcEvents)})`,
    '| stage | n | p50 | p95 | p99 | p99.9 | max |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const s of STAGES) {
    const p = r.stages[s];
    lines.push(`| ${s} | ${p.n} | ${ms(p.p50)} | ${ms(p.p95)} | ${ms(p.p99)} | ${ms(p.p999)} | ${ms(p.max)} |`);
  }
  return lines.join('\n');
}
