/** `pems-sync dlq list|show|replay|discard`: dead letters over the control API. */
import type { Command } from 'commander';
import { ApiClient, withApiOptions, type ApiOptions } from './api-client';
import type { CliContext } from './context';
import { details, EXIT, table, usage } from './output';

const COLUMNS = ['id', 'createdAt', 'organizationId', 'pfaId', 'errorCode', 'status', 'reason'];

export function registerDlq(program: Command, ctx: CliContext): void {
  const dlq = program
    .command('dlq')
    .description('dead letters: what the sink could not write, and why; replay or discard them');

  withApiOptions(dlq.command('list'))
    .description('dead letters, newest first')
    .option('-o, --organization <id>', 'only this organization')
    .option('--status <status>', 'open, replayed or discarded', 'open')
    .option('--pfa <id>', 'only this PFA')
    .option('--code <code>', 'only this error code, e.g. PEMS_SYNC_RETRIES_EXHAUSTED')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  pems-sync dlq list --organization RIO --as ops-admin\n  pems-sync dlq list --code PEMS_SYNC_ORGANIZATION_NOT_CONFIGURED --json',
    )
    .action(
      async (
        o: ApiOptions & {
          organization?: string;
          status: string;
          pfa?: string;
          code?: string;
          limit: string;
          json?: boolean;
        },
      ) => {
        const items = await new ApiClient(ctx, o).all<Record<string, unknown>>(
          '/dead-letters',
          { organization: o.organization, status: o.status, pfaId: o.pfa, errorCode: o.code },
          Number(o.limit),
        );
        ctx.emit(Boolean(o.json), items, () => (items.length === 0 ? 'no dead letters' : table(items, COLUMNS)));
      },
    );

  withApiOptions(dlq.command('show <id>'))
    .description('one dead letter with its error and original record')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  pems-sync dlq show 3f0c...-uuid --as ops-admin')
    .action(async (id: string, o: ApiOptions & { json?: boolean }) => {
      const dl = await new ApiClient(ctx, o).request<Record<string, unknown>>(
        'GET',
        `/dead-letters/${encodeURIComponent(id)}`,
      );
      ctx.emit(Boolean(o.json), dl, () => details(dl));
    });

  withApiOptions(dlq.command('replay [ids...]'))
    .description('replay dead letters: their modifications are committed again (same id, same PEMS idempotency key)')
    .option('-o, --organization <id>', 'with --all: the organization whose open dead letters to replay')
    .option('--all', 'every open dead letter of --organization (after fixing its configuration)')
    .option('--code <code>', 'with --all: only this error code')
    .option('--reason <text>', 'why (kept in the audit trail)')
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      `
Exit code 1 when any dead letter was refused (each result says why).

Examples:
  pems-sync dlq replay --organization RIO --all --as ops-admin --reason "credential fixed"
  pems-sync dlq replay 3f0c...-uuid 9a1b...-uuid --as ops-admin`,
    )
    .action(
      async (
        ids: string[],
        o: ApiOptions & { organization?: string; all?: boolean; code?: string; reason?: string; json?: boolean },
      ) => {
        const api = new ApiClient(ctx, o);
        if (o.all) {
          if (!o.organization) throw usage('--all needs --organization');
          if (ids.length > 0) throw usage('give either ids or --all, not both');
          ids = (
            await api.all<{ id: string }>('/dead-letters', {
              organization: o.organization,
              status: 'open',
              errorCode: o.code,
            })
          ).map((d) => d.id);
        } else if (ids.length === 0) throw usage('give dead-letter ids, or --organization ORG --all');
        const results: Array<Record<string, unknown>> = [];
        for (let i = 0; i < ids.length; i += 100) {
          const r = await api.request<{ results: Array<Record<string, unknown>> }>('POST', '/dead-letters/replay', {
            ids: ids.slice(i, i + 100),
            ...(o.reason ? { reason: o.reason } : {}),
          });
          results.push(...r.results);
        }
        const refusedCount = results.filter((r) => r.status !== 'replayed').length;
        ctx.emit(Boolean(o.json), { replayed: results.length - refusedCount, refused: refusedCount, results }, () =>
          results.length === 0
            ? 'nothing to replay'
            : `${table(results, ['id', 'status', 'modificationId', 'message'])}\n${results.length - refusedCount} replayed, ${refusedCount} refused`,
        );
        if (refusedCount > 0) process.exitCode = EXIT.FAILED;
      },
    );

  withApiOptions(dlq.command('discard <id>'))
    .description('close a dead letter without replaying it, with a reason')
    .requiredOption('--reason <text>', 'why (kept in the audit trail)')
    .option('--json', 'print the dead letter as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  pems-sync dlq discard 3f0c...-uuid --reason "duplicate of PFA-1 edit" --as ops-admin',
    )
    .action(async (id: string, o: ApiOptions & { reason: string; json?: boolean }) => {
      const dl = await new ApiClient(ctx, o).request<Record<string, unknown>>(
        'POST',
        `/dead-letters/${encodeURIComponent(id)}/discard`,
        { reason: o.reason },
      );
      ctx.emit(Boolean(o.json), dl, () => `${ctx.paint.warn('discarded')} dead letter ${id}`);
    });
}
