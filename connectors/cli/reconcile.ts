/** `pems-sync reconcile`: compare PEMS, the mirror and the modifications of an organization (connectors/reconcile). */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatSummary } from '../../streams/reconcile';
import { reconcileOrganization } from '../reconcile';
import type { CliContext } from './context';
import { EXIT, usage } from './output';
import { organizationId } from './org';

function nonNegative(name: string, raw: string): number {
  if (!/^\d+$/.test(raw)) throw usage(`--${name} must be a non-negative whole number, got '${raw}'`);
  return Number(raw);
}

export function registerReconcile(program: Command, ctx: CliContext): void {
  program
    .command('reconcile')
    .description('compare PEMS, the mirror and the modifications of one organization; exit 1 on drift')
    .requiredOption('-o, --organization <id>', 'organization')
    .option('--report <file>', 'write every finding and the summary as JSON to this file')
    .option('--grace-ms <ms>', 'committed modifications younger than this are in flight, not lost', '300000')
    .option('--page-size <n>', 'records per GET /pfa page, 1..500', '500')
    .option('--examples <n>', 'findings of each kind printed', '5')
    .option('--ca-file <pem>', 'extra CA certificate to trust for PEMS (default PEMS_SYNC_PEMS_CA_FILE)')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nReads every PEMS record within the shared rate limit (100,000 records ≈ 20 s at 10 requests/s).\n\nExamples:\n  pems-sync reconcile --organization RIO\n  pems-sync reconcile -o RIO --report drift.json --json',
    )
    .action(
      async (o: {
        organization: string;
        caFile?: string;
        report?: string;
        graceMs: string;
        pageSize: string;
        examples: string;
        json?: boolean;
      }) => {
        const organization = organizationId(o.organization);
        const pageSize = nonNegative('page-size', o.pageSize);
        if (pageSize < 1 || pageSize > 500) throw usage('--page-size must be 1..500');
        const run = await reconcileOrganization({
          db: ctx.db,
          organization,
          graceMs: nonNegative('grace-ms', o.graceMs),
          pageSize,
          clients: ctx.pemsClients({ ca: o.caFile ? readFileSync(o.caFile) : ctx.pemsCa() }),
        });
        if (o.report)
          writeFileSync(
            o.report,
            JSON.stringify(
              {
                summary: run.summary,
                durationMs: run.durationMs,
                pemsRequests: run.pemsRequests,
                findings: run.findings,
              },
              null,
              2,
            ),
          );
        ctx.emit(
          Boolean(o.json),
          { summary: run.summary, durationMs: run.durationMs, pemsRequests: run.pemsRequests },
          () =>
            `${formatSummary(run, { examples: nonNegative('examples', o.examples), durationMs: run.durationMs, pemsRequests: run.pemsRequests })}${o.report ? `\nreport: ${o.report}` : ''}`,
        );
        if (run.summary.drift) process.exitCode = EXIT.FAILED;
      },
    );
}
