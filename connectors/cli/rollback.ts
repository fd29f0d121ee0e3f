/** `pems-sync rollback request|approve|reject|list`: four-eyes rollbacks over the control API. */
import type { Command } from 'commander';
import { ApiClient, withApiOptions, type ApiOptions } from './api-client';
import type { CliContext } from './context';
import { table, usage } from './output';
import { organizationId } from './org';

export function registerRollback(program: Command, ctx: CliContext): void {
  const rollback = program
    .command('rollback')
    .description("return a PFA to an earlier version with a second administrator's approval");

  withApiOptions(rollback.command('request'))
    .description('ask for a PFA to go back to a version (an administrator other than you approves)')
    .requiredOption('-o, --organization <id>', 'organization')
    .requiredOption('--pfa <id>', 'PFA id')
    .requiredOption('--version <n>', 'the version to return to')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'print the request as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  pems-sync rollback request -o RIO --pfa PFA-10023 --version 7 --reason "wrong forecast" --as ops-admin',
    )
    .action(
      async (
        o: ApiOptions & { organization: string; pfa: string; version: string; reason: string; json?: boolean },
      ) => {
        const version = Number(o.version);
        if (!Number.isInteger(version) || version < 1)
          throw usage(`--version must be a positive whole number, got '${o.version}'`);
        const path = `/organizations/${encodeURIComponent(organizationId(o.organization))}/pfas/${encodeURIComponent(o.pfa)}/rollbacks`;
        const r = await new ApiClient(ctx, o).request<Record<string, unknown>>('POST', path, {
          targetVersion: version,
          reason: o.reason,
        });
        ctx.emit(
          Boolean(o.json),
          r,
          () =>
            `${ctx.paint.ok('requested')} rollback ${String(r.id)} of ${o.pfa} to version ${version}; another administrator approves: pems-sync rollback approve ${String(r.id)}`,
        );
      },
    );

  for (const [verb, what] of [
    ['approve', 'approve (four eyes: not the requester)'],
    ['reject', 'reject'],
  ] as const) {
    const command = withApiOptions(rollback.command(`${verb} <id>`))
      .description(`${what} a pending rollback`)
      .option('--reason <text>', verb === 'reject' ? 'why (required)' : 'why')
      .option('--json', 'print the rollback as JSON')
      .addHelpText(
        'after',
        `\nExamples:\n  pems-sync rollback ${verb} 0b7c...-uuid ${verb === 'reject' ? '--reason "not needed" ' : ''}--as ops-admin2` +
          (verb === 'approve'
            ? '\n  pems-sync rollback approve 0b7c...-uuid --preview-hash 3f2a... --as ops-admin2\n\n' +
              "An approval is of exactly the request's differences (its previewHash, shown by `rollback list --json`):\n" +
              'without --preview-hash the request is read first and its hash sent; refused (6) when PEMS moved since.'
            : ''),
      );
    if (verb === 'approve')
      command.option('--preview-hash <sha256>', 'the previewHash of the differences you reviewed');
    command.action(async (id: string, o: ApiOptions & { reason?: string; json?: boolean; previewHash?: string }) => {
      if (verb === 'reject' && !o.reason) throw usage('reject needs --reason');
      const api = new ApiClient(ctx, o);
      const path = `/rollbacks/${encodeURIComponent(id)}`;
      let body: Record<string, unknown> = o.reason ? { reason: o.reason } : {};
      if (verb === 'approve') {
        const previewHash =
          o.previewHash ?? String((await api.request<Record<string, unknown>>('GET', path)).previewHash ?? '');
        body = { ...body, previewHash };
      }
      const r = await api.request<Record<string, unknown>>('POST', `${path}/${verb}`, body);
      ctx.emit(
        Boolean(o.json),
        r,
        () => `${ctx.paint.ok(verb === 'approve' ? 'approved' : 'rejected')} rollback ${id}: ${String(r.status ?? '')}`,
      );
    });
  }

  withApiOptions(rollback.command('list'))
    .description('rollback requests, newest first')
    .option('-o, --organization <id>', 'only this organization')
    .option('--status <status>', 'pending, approved, rejected, applied or failed')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  pems-sync rollback list -o RIO --status pending --as ops-admin')
    .action(async (o: ApiOptions & { organization?: string; status?: string; json?: boolean }) => {
      const items = await new ApiClient(ctx, o).all<Record<string, unknown>>(
        '/rollbacks',
        { organization: o.organization, status: o.status },
        1000,
      );
      ctx.emit(Boolean(o.json), items, () =>
        items.length === 0
          ? 'no rollbacks'
          : table(items, ['id', 'createdAt', 'organizationId', 'pfaId', 'targetVersion', 'status', 'requestedBy']),
      );
    });
}
