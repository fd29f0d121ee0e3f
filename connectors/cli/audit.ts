/** `pems-sync audit query|verify|export`: the hash-chained audit trail over the control API. */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ApiClient, withApiOptions, type ApiOptions } from './api-client';
import type { CliContext } from './context';
import { EXIT, details, table, usage } from './output';

interface Filters {
  organization?: string;
  pfa?: string;
  actor?: string;
  event?: string;
  from?: string;
  to?: string;
}

const filters = (o: Filters): Record<string, string | undefined> => ({
  organization: o.organization,
  pfaId: o.pfa,
  actor: o.actor,
  eventType: o.event,
  from: o.from,
  to: o.to,
});

function withFilters(c: Command): Command {
  return c
    .option('-o, --organization <id>', 'organization')
    .option('--pfa <id>', 'only this PFA')
    .option('--actor <user>', 'only this actor')
    .option('--event <type>', 'only this event type, e.g. sync.applied')
    .option('--from <iso>', 'from this time (ISO 8601)')
    .option('--to <iso>', 'until this time (ISO 8601)');
}

export function registerAudit(program: Command, ctx: CliContext): void {
  const audit = program
    .command('audit')
    .description('the audit trail: every write attempt and every action by a person, hash-chained');

  withFilters(withApiOptions(audit.command('query')))
    .description('audit entries, newest first')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  pems-sync audit query -o RIO --pfa PFA-10023 --as alice\n  pems-sync audit query -o RIO --event deadletter.replayed --json',
    )
    .action(async (o: ApiOptions & Filters & { limit: string; json?: boolean }) => {
      const items = await new ApiClient(ctx, o).all<Record<string, unknown>>('/audit', filters(o), Number(o.limit));
      ctx.emit(Boolean(o.json), items, () =>
        items.length === 0
          ? 'no entries'
          : table(items, ['createdAt', 'organizationId', 'pfaId', 'actor', 'eventType']),
      );
    });

  withApiOptions(audit.command('verify'))
    .description("recompute an organization's chain; exit 1 and the first broken entry when it does not verify")
    .requiredOption('-o, --organization <id>', 'organization')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  pems-sync audit verify -o RIO --as alice')
    .action(async (o: ApiOptions & { organization: string; json?: boolean }) => {
      const r = await new ApiClient(ctx, o).request<Record<string, unknown>>('GET', '/audit/verify', undefined, {
        organization: o.organization,
      });
      ctx.emit(Boolean(o.json), r, () => `${r.ok ? ctx.paint.ok('verified') : ctx.paint.bad('BROKEN')}\n${details(r)}`);
      if (!r.ok) process.exitCode = EXIT.FAILED;
    });

  withFilters(withApiOptions(audit.command('export')))
    .description('every matching entry as NDJSON or CSV, streamed to stdout or a file')
    .option('--format <f>', 'ndjson or csv', 'ndjson')
    .option('--output <file>', 'write here instead of stdout')
    .addHelpText(
      'after',
      '\nExamples:\n  pems-sync audit export -o RIO --format csv --output rio-audit.csv --as alice\n  pems-sync audit export -o RIO --from 2026-11-01T00:00:00Z | jq .eventType',
    )
    .action(async (o: ApiOptions & Filters & { format: string; output?: string }) => {
      if (o.format !== 'ndjson' && o.format !== 'csv') throw usage(`--format must be ndjson or csv, got '${o.format}'`);
      const res = await new ApiClient(ctx, o).send('GET', '/audit/export', undefined, {
        ...filters(o),
        format: o.format,
      });
      const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
      if (o.output) await pipeline(body, createWriteStream(o.output));
      else for await (const chunk of body) ctx.io.stdout.write(chunk.toString());
    });
}
