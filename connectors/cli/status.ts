/** `pems-sync status`: the console's status of an organization, as a table. */
import type { Command } from 'commander';
import { ApiClient, withApiOptions, type ApiOptions } from './api-client';
import type { CliContext } from './context';
import { details } from './output';
import type { ConsumerLag, PemsHealth } from '../control-api/routes/status';
import type { SyncStatus } from '../postgres/status';

/** GET /status's body, read defensively: a part the server left out prints as unknown, never throws. */
interface StatusBody {
  organizationId?: string;
  counts?: Partial<SyncStatus['counts']>;
  lastSuccessAt?: string | null;
  latencyLastHour?: Partial<SyncStatus['latencyLastHour']>;
  pemsHealth?: Partial<PemsHealth>;
  consumerLag?: Partial<ConsumerLag>;
}

export function registerStatus(program: Command, ctx: CliContext): void {
  withApiOptions(program.command('status'))
    .description('what the sync is doing for an organization: counts, latency, PEMS state, consumer lag')
    .requiredOption('-o, --organization <id>', 'organization')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  pems-sync status --organization RIO --as alice\n  PEMS_SYNC_API_TOKEN=... pems-sync status -o RIO --json',
    )
    .action(async (o: ApiOptions & { organization: string; json?: boolean }) => {
      const s = await new ApiClient(ctx, o).request<StatusBody>('GET', '/status', undefined, {
        organization: o.organization,
      });
      ctx.emit(Boolean(o.json), s, () => {
        const p: Partial<PemsHealth> = s.pemsHealth ?? {};
        const pems =
          p.status === 'up'
            ? ctx.paint.ok(`up (${p.latencyMs} ms)`)
            : p.status === 'misconfigured'
              ? ctx.paint.bad(`misconfigured: ${p.setting}: ${p.reason}`)
              : ctx.paint.bad(`${p.status}: ${p.reason ?? ''}`);
        return details({
          organization: s.organizationId,
          ...s.counts,
          lastSuccessAt: s.lastSuccessAt ?? 'never',
          'latency p50/p95 (1 h)': s.latencyLastHour?.samples
            ? `${s.latencyLastHour.p50Seconds?.toFixed(2)} s / ${s.latencyLastHour.p95Seconds?.toFixed(2)} s`
            : 'no samples',
          PEMS: pems,
          'consumer lag':
            s.consumerLag?.status === 'ok'
              ? `${s.consumerLag.total} on ${s.consumerLag.topic}`
              : `unknown: ${s.consumerLag?.reason ?? ''}`,
        });
      });
    });
}
