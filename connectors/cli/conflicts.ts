/** `pems-sync conflicts list|show|resolve`: conflicts over the control API. */
import type { Command } from 'commander';
import { ApiClient, withApiOptions, type ApiOptions } from './api-client';
import type { CliContext } from './context';
import { details, table, usage } from './output';

/** A conflict as GET /conflicts and /conflicts/:id return it: the fields are listed, the rest printed as is. */
interface ConflictBody extends Record<string, unknown> {
  fields?: Array<Record<string, unknown> & { field: string }>;
}

/** `--value field=JSON` (or a plain string when it is not JSON) → {field: value}. */
export function parseValues(raw: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of raw) {
    const at = kv.indexOf('=');
    if (at <= 0) throw usage(`--value '${kv}' must be field=value`);
    const field = kv.slice(0, at);
    const text = kv.slice(at + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // a plain string
    }
    out[field] = value;
  }
  return out;
}

export function registerConflicts(program: Command, ctx: CliContext): void {
  const conflicts = program
    .command('conflicts')
    .description('edits that collided with a PEMS-side change of the same field, waiting for a person');

  withApiOptions(conflicts.command('list'))
    .description('conflicts, newest first')
    .option('-o, --organization <id>', 'only this organization')
    .option('--status <status>', 'open, resolved or superseded', 'open')
    .option('--pfa <id>', 'only this PFA')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  pems-sync conflicts list --organization RIO --as alice\n  pems-sync conflicts list -o RIO --status resolved --json',
    )
    .action(
      async (
        o: ApiOptions & { organization?: string; status: string; pfa?: string; limit: string; json?: boolean },
      ) => {
        const items = await new ApiClient(ctx, o).all<ConflictBody>(
          '/conflicts',
          { organization: o.organization, status: o.status, pfaId: o.pfa },
          Number(o.limit),
        );
        ctx.emit(Boolean(o.json), items, () =>
          items.length === 0
            ? 'no conflicts'
            : table(
                items.map((c) => ({ ...c, fields: (c.fields ?? []).map((f) => f.field).join(',') })),
                ['id', 'createdAt', 'organizationId', 'pfaId', 'status', 'fields'],
              ),
        );
      },
    );

  withApiOptions(conflicts.command('show <id>'))
    .description('one conflict: each field with its base, local and PEMS value')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  pems-sync conflicts show 5d2e...-uuid --as alice')
    .action(async (id: string, o: ApiOptions & { json?: boolean }) => {
      const c = await new ApiClient(ctx, o).request<ConflictBody>('GET', `/conflicts/${encodeURIComponent(id)}`);
      ctx.emit(Boolean(o.json), c, () => {
        const { fields, ...rest } = c;
        return `${details(rest)}\n\n${table(fields ?? [], ['field', 'base', 'local', 'pems'])}`;
      });
    });

  withApiOptions(conflicts.command('resolve <id>'))
    .description(
      'resolve a conflict: use the local edit, keep PEMS, or merge field by field (a new committed modification)',
    )
    .requiredOption('--use <choice>', 'local, pems or merge')
    .option(
      '--value <field=value...>',
      'merge: a value for every conflicting field (JSON or plain text)',
      [] as string[],
    )
    .option('--reason <text>', 'why (kept in the audit trail)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  pems-sync conflicts resolve 5d2e...-uuid --use local --as alice\n  pems-sync conflicts resolve 5d2e...-uuid --use merge --value notes="both" --value monthlyRate=5600 --as alice',
    )
    .action(async (id: string, o: ApiOptions & { use: string; value: string[]; reason?: string; json?: boolean }) => {
      const resolution = { local: 'use_local', pems: 'use_pems', merge: 'merge' }[o.use];
      if (!resolution) throw usage(`--use must be local, pems or merge, got '${o.use}'`);
      if (resolution !== 'merge' && o.value.length > 0) throw usage('--value is for --use merge only');
      const body: Record<string, unknown> = { resolution, ...(o.reason ? { reason: o.reason } : {}) };
      if (resolution === 'merge') body.values = parseValues(o.value);
      const r = await new ApiClient(ctx, o).request<Record<string, unknown>>(
        'POST',
        `/conflicts/${encodeURIComponent(id)}/resolve`,
        body,
      );
      ctx.emit(Boolean(o.json), r, () => `${ctx.paint.ok('resolved')} conflict ${id} (${resolution})`);
    });
}
