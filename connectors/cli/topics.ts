/**
 * `pems-sync topics create|check`: every topic of schemas/topics.ts with its partitions and
 * record-size limits, and the result topic's subject in the schema registry with an explicit
 * BACKWARD compatibility, so a schema change that would break consumers is refused.
 */
import type { Command } from 'commander';
import { ConfigResourceTypes } from 'kafkajs';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { topicSpecs, type TopicSpec } from '../../schemas/topics';
import { SYNC_RESULT_SCHEMA } from '../sink/emit';
import type { CliContext } from './context';
import { EXIT, table, unavailable, usage } from './output';

/** Modes that refuse a change breaking readers of existing records (BACKWARD or stricter). */
export const SAFE_COMPATIBILITY = new Set(['BACKWARD', 'BACKWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE']);

export interface TopicCheck {
  topic: string;
  ok: boolean;
  partitions: number | null;
  expectedPartitions: number;
  problems: string[];
}

function specsFor(ctx: CliContext): TopicSpec[] {
  // The topic names of the config (schemas/config.ts), with schemas/topics.ts's partitioning and limits.
  const t = ctx.config.topics;
  const env = {
    ...ctx.io.env,
    PEMS_SYNC_CDC_TOPIC: t.cdc,
    PEMS_SYNC_RESULT_TOPIC: t.results,
    PEMS_SYNC_DLQ_TOPIC: t.deadLetters,
    PEMS_SYNC_RAW_TOPIC: t.pemsRaw,
    PEMS_SYNC_MIRROR_DLQ_TOPIC: t.mirrorDeadLetters,
    PEMS_SYNC_AUDIT_CHECKPOINT_TOPIC: ctx.config.audit.checkpointTopic,
  };
  return topicSpecs(env);
}

export function registryFor(ctx: CliContext): SchemaRegistry {
  const r = ctx.config.schemaRegistry;
  return new SchemaRegistry({
    host: r.url,
    auth: r.username ? { username: r.username, password: r.password } : undefined,
  });
}

async function registryJson(
  ctx: CliContext,
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: unknown }> {
  const r = ctx.config.schemaRegistry;
  const headers: Record<string, string> = {
    accept: 'application/json',
    'content-type': 'application/vnd.schemaregistry.v1+json',
  };
  if (r.username) headers.authorization = `Basic ${Buffer.from(`${r.username}:${r.password}`).toString('base64')}`;
  let res: Response;
  try {
    res = await fetch(`${r.url.replace(/\/+$/, '')}${path}`, { ...init, headers, signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw unavailable(
      `the schema registry at ${r.url} could not be reached (${(e as Error).message}); set PEMS_SYNC_SCHEMA_REGISTRY_URL`,
    );
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

/** The compatibility level of a subject (its own, else the registry's global one). */
export async function subjectCompatibility(
  ctx: CliContext,
  subject: string,
): Promise<{ level: string | null; own: boolean }> {
  const own = await registryJson(ctx, `/config/${encodeURIComponent(subject)}`);
  const level = (b: unknown): string | null => {
    if (!b || typeof b !== 'object') return null;
    const c = b as { compatibilityLevel?: string | null; compatibility?: string | null };
    return c.compatibilityLevel ?? c.compatibility ?? null;
  };
  if (own.status === 200 && level(own.body)) return { level: level(own.body), own: true };
  const global = await registryJson(ctx, '/config');
  return { level: global.status === 200 ? level(global.body) : null, own: false };
}

/** Registers SyncResult under `<results>-value` (idempotent) and sets the subject's compatibility explicitly. */
export async function ensureResultSubject(
  ctx: CliContext,
  compatibility = 'BACKWARD',
): Promise<{ subject: string; id: number; compatibility: string }> {
  const subject = `${ctx.config.topics.results}-value`;
  let id: number;
  try {
    ({ id } = await registryFor(ctx).register(
      { type: SchemaType.AVRO, schema: SYNC_RESULT_SCHEMA },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    ));
  } catch (e) {
    if (/ECONNREFUSED|fetch failed|ENOTFOUND/.test(String((e as Error).message)))
      throw unavailable(`the schema registry could not be reached: ${(e as Error).message}`);
    throw e;
  }
  const put = await registryJson(ctx, `/config/${encodeURIComponent(subject)}`, {
    method: 'PUT',
    body: JSON.stringify({ compatibility }),
  });
  if (put.status >= 300)
    throw unavailable(
      `the registry refused compatibility ${compatibility} on ${subject} (${put.status}): ${JSON.stringify(put.body)}`,
    );
  return { subject, id, compatibility };
}

export async function createTopics(
  ctx: CliContext,
  replicationFactor: number,
): Promise<{ created: string[]; updated: string[] }> {
  const admin = ctx.kafka('topics').admin();
  await admin.connect();
  try {
    const specs = specsFor(ctx);
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor,
          configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    const withConfig = specs.filter((t) => existing.has(t.name) && t.config && Object.keys(t.config).length > 0);
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
    return { created: missing.map((t) => t.name), updated: withConfig.map((t) => t.name) };
  } finally {
    await admin.disconnect();
  }
}

export async function checkTopics(ctx: CliContext): Promise<TopicCheck[]> {
  const admin = ctx.kafka('topics').admin();
  await admin.connect();
  try {
    const specs = specsFor(ctx);
    const existing = new Set(await admin.listTopics());
    const present = specs.filter((s) => existing.has(s.name));
    const meta =
      present.length > 0 ? await admin.fetchTopicMetadata({ topics: present.map((s) => s.name) }) : { topics: [] };
    const configs =
      present.length > 0
        ? await admin.describeConfigs({
            includeSynonyms: false,
            resources: present.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.name })),
          })
        : { resources: [] };
    return specs.map((s) => {
      if (!existing.has(s.name))
        return {
          topic: s.name,
          ok: false,
          partitions: null,
          expectedPartitions: s.partitions,
          problems: ['missing: pems-sync topics create'],
        };
      const problems: string[] = [];
      const partitions = meta.topics.find((t) => t.name === s.name)?.partitions.length ?? 0;
      // Fewer partitions than declared breaks nothing but parallelism; more is fine too, as long as
      // the CDC topic and the raw topic agree (both are keyed by organization + PFA).
      if (partitions < s.partitions) problems.push(`${partitions} partitions, declared ${s.partitions}`);
      const entries = configs.resources.find((r) => r.resourceName === s.name)?.configEntries ?? [];
      for (const [name, value] of Object.entries(s.config ?? {})) {
        const actual = entries.find((e) => e.configName === name)?.configValue;
        if (actual !== value) problems.push(`${name}=${actual ?? 'unset'}, declared ${value}`);
      }
      return { topic: s.name, ok: problems.length === 0, partitions, expectedPartitions: s.partitions, problems };
    });
  } finally {
    await admin.disconnect();
  }
}

export function registerTopics(program: Command, ctx: CliContext): void {
  const topics = program
    .command('topics')
    .description('Kafka topics (partitions, record size limits) and the result subject in the schema registry');

  topics
    .command('create')
    .description(
      'create missing topics, align their configs, register the SyncResult schema with BACKWARD compatibility (idempotent)',
    )
    .option('--replication-factor <n>', 'replicas per partition of new topics', '1')
    .option('--json', 'print what was done as JSON')
    .addHelpText(
      'after',
      '\nTopic names come from the config (PEMS_SYNC_CDC_TOPIC, PEMS_SYNC_RESULT_TOPIC, ...), partitions from KAFKA_PARTITIONS (default 6).\n\nExamples:\n  pems-sync topics create\n  pems-sync topics create --replication-factor 3',
    )
    .action(async (o: { replicationFactor: string; json?: boolean }) => {
      const rf = Number(o.replicationFactor);
      if (!Number.isInteger(rf) || rf < 1)
        throw usage(`--replication-factor must be a positive whole number, got '${o.replicationFactor}'`);
      const done = await createTopics(ctx, rf);
      const subject = await ensureResultSubject(ctx);
      ctx.emit(Boolean(o.json), { ...done, subject }, () =>
        [
          `topics created: ${done.created.join(', ') || 'none (all exist)'}`,
          `configs aligned: ${done.updated.join(', ') || 'none'}`,
          `registry: ${subject.subject} schema id ${subject.id}, compatibility ${subject.compatibility}`,
        ].join('\n'),
      );
    });

  topics
    .command('check')
    .description('compare the topics and the result subject with what pems-sync declares')
    .option('--json', 'print the checks as JSON')
    .addHelpText(
      'after',
      '\nExit code 1 when a topic is missing or differs, or the subject is not BACKWARD-compatible or stricter.\n\nExamples:\n  pems-sync topics check\n  pems-sync topics check --json',
    )
    .action(async (o: { json?: boolean }) => {
      const checks = await checkTopics(ctx);
      const subject = `${ctx.config.topics.results}-value`;
      const compat = await subjectCompatibility(ctx, subject);
      const subjectOk = compat.level !== null && SAFE_COMPATIBILITY.has(compat.level) && compat.own;
      const ok = checks.every((c) => c.ok) && subjectOk;
      ctx.emit(
        Boolean(o.json),
        { ok, topics: checks, subject: { subject, compatibility: compat.level, explicit: compat.own, ok: subjectOk } },
        () =>
          [
            table(
              checks.map((c) => ({
                topic: c.topic,
                state: c.ok ? ctx.paint.ok('ok') : ctx.paint.bad('FAIL'),
                partitions: c.partitions ?? '-',
                problems: c.problems.join('; '),
              })),
              ['topic', 'state', 'partitions', 'problems'],
            ),
            `registry: ${subject} compatibility ${compat.level ?? 'unknown'}${compat.own ? '' : ' (registry default, not set on the subject)'} ${subjectOk ? ctx.paint.ok('ok') : ctx.paint.bad('FAIL: pems-sync topics create sets BACKWARD')}`,
          ].join('\n'),
      );
      if (!ok) process.exitCode = EXIT.FAILED;
    });
}
