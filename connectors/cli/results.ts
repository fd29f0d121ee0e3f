/**
 * `pems-sync results tail`: follow the result topic (Avro, decoded through the schema registry)
 * and the dead-letter topic, filtered by organization, PFA and outcome. Reads in a consumer group
 * of its own that commits nothing, so it never moves anyone's offsets.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { retryUnlessStopping } from '../kafka/consumer-retry';
import { DLQ_HEADERS, type SyncResultRecord } from '../../streams/outcomes';
import type { CliContext } from './context';
import { printable, usage } from './output';
import { registryFor } from './topics';

export interface TailedRecord {
  topic: 'result' | 'dead-letter';
  partition: number;
  offset: string;
  organizationId: string | null;
  pfaId: string | null;
  modificationId: string | null;
  /** SYNCED, CONFLICT, ... for results; DEAD_LETTER for dead letters. */
  outcome: string;
  code: string | null;
  message: string | null;
  record: unknown;
}

const header = (h: IHeaders | undefined, name: string): string | null => {
  const v = h?.[name];
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  return one === undefined ? null : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
};

/**
 * A dead-letter record as a tailed line: key {organization_id, pfa_id}, value the Debezium event,
 * headers the reason.
 */
export function deadLetterLine(m: KafkaMessage, partition: number): TailedRecord {
  let key: Record<string, unknown> = {};
  let modificationId: string | null = null;
  try {
    key = JSON.parse(m.key?.toString('utf8') ?? '{}') as Record<string, unknown>;
  } catch {
    // a poison key: shown as is below
  }
  try {
    const v = JSON.parse(m.value?.toString('utf8') ?? 'null') as {
      after?: { id?: string };
      payload?: { after?: { id?: string } };
    } | null;
    modificationId = v?.after?.id ?? v?.payload?.after?.id ?? null;
  } catch {
    // an undecodable value (the reason it is a dead letter)
  }
  return {
    topic: 'dead-letter',
    partition,
    offset: m.offset,
    organizationId: typeof key.organization_id === 'string' ? key.organization_id : null,
    pfaId: typeof key.pfa_id === 'string' ? key.pfa_id : null,
    modificationId,
    outcome: 'DEAD_LETTER',
    code: header(m.headers, DLQ_HEADERS.code),
    message: header(m.headers, DLQ_HEADERS.exceptionMessage),
    record: { key: m.key?.toString('utf8') ?? null },
  };
}

export interface TailFilter {
  organization?: string;
  pfa?: string;
  outcome?: string[];
}

export function matches(r: TailedRecord, f: TailFilter): boolean {
  if (f.organization && r.organizationId !== f.organization) return false;
  if (f.pfa && r.pfaId !== f.pfa) return false;
  if (f.outcome && f.outcome.length > 0 && !f.outcome.includes(r.outcome)) return false;
  return true;
}

export function registerResults(program: Command, ctx: CliContext): void {
  const results = program
    .command('results')
    .description('the result and dead-letter topics, as services that subscribe to them see them');
  results
    .command('tail')
    .description('follow results (decoded through the schema registry) and dead letters')
    .option('-o, --organization <id>', 'only this organization')
    .option('--pfa <id>', 'only this PFA')
    .option(
      '--outcome <outcomes>',
      'comma-separated: SYNCED, CONFLICT, REJECTED, FAILED, SUPERSEDED, SKIPPED, DEAD_LETTER',
    )
    .option('--from-beginning', 'start at the oldest record instead of now')
    .option('--max <n>', 'stop after this many matching records')
    .option('--idle-timeout <seconds>', 'stop when nothing arrived for this long')
    .option('--json', 'one JSON object per line (NDJSON)')
    .addHelpText(
      'after',
      `
Examples:
  pems-sync results tail --organization RIO
  pems-sync results tail -o RIO --outcome FAILED,DEAD_LETTER --from-beginning --json | jq .code
  pems-sync results tail --pfa PFA-10023 --from-beginning --max 1 --json`,
    )
    .action(
      async (o: {
        organization?: string;
        pfa?: string;
        outcome?: string;
        fromBeginning?: boolean;
        max?: string;
        idleTimeout?: string;
        json?: boolean;
      }) => {
        const max = o.max === undefined ? Infinity : Number(o.max);
        if (!(max > 0)) throw usage(`--max must be a positive number, got '${o.max}'`);
        const idle = o.idleTimeout === undefined ? Infinity : Number(o.idleTimeout) * 1000;
        if (!(idle > 0)) throw usage(`--idle-timeout must be a positive number of seconds, got '${o.idleTimeout}'`);
        const outcomes = o.outcome
          ?.split(',')
          .map((s) => s.trim().toUpperCase())
          .filter(Boolean);
        const filter: TailFilter = { organization: o.organization, pfa: o.pfa, outcome: outcomes };
        const { results: resultTopic, deadLetters } = ctx.config.topics;
        const registry = registryFor(ctx);
        let closing = false;
        const consumer = ctx.kafka('tail').consumer({
          groupId: `pems-sync-cli-tail-${randomBytes(6).toString('hex')}`,
          maxWaitTimeInMs: 500,
          retry: retryUnlessStopping(() => closing),
        });
        await consumer.connect();
        ctx.onClose(() => {
          closing = true;
          return consumer.disconnect();
        });
        await consumer.subscribe({ topics: [resultTopic, deadLetters], fromBeginning: Boolean(o.fromBeginning) });
        let seen = 0;
        let last = Date.now();
        await new Promise<void>((resolve, reject) => {
          const idleTimer = Number.isFinite(idle)
            ? setInterval(() => {
                if (Date.now() - last > idle) resolve();
              }, 250)
            : undefined;
          const done = (): void => {
            if (idleTimer) clearInterval(idleTimer);
            resolve();
          };
          process.once('SIGINT', done);
          consumer
            .run({
              autoCommit: false,
              eachMessage: async ({ topic, partition, message }) => {
                last = Date.now();
                if (seen >= max) return;
                let line: TailedRecord;
                if (topic === resultTopic) {
                  const r = (await registry.decode(message.value!)) as SyncResultRecord;
                  line = {
                    topic: 'result',
                    partition,
                    offset: message.offset,
                    organizationId: r.organizationId,
                    pfaId: r.pfaId,
                    modificationId: r.modificationId,
                    outcome: r.outcome,
                    code: r.error?.code ?? null,
                    message: r.error?.message ?? null,
                    record: r,
                  };
                } else line = deadLetterLine(message, partition);
                if (!matches(line, filter)) return;
                seen += 1;
                ctx.out(
                  o.json
                    ? JSON.stringify(line, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
                    : [
                        line.outcome.padEnd(11),
                        printable(line.organizationId).padEnd(12),
                        printable(line.pfaId).padEnd(16),
                        printable(line.modificationId),
                        line.code ? `${line.code}: ${printable(line.message)}` : '',
                      ]
                        .join(' ')
                        .trimEnd(),
                );
                if (seen >= max) done();
              },
            })
            .catch(reject);
        });
      },
    );
}
