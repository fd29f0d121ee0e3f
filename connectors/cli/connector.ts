/**
 * `pems-sync connector register|status|restart`: the Debezium connector that captures
 * pfa_modification, and its replication slot. The README's slot remedy (terminate the backend
 * holding the slot) is `restart --free-slot`, done only when it is safe: the connector's task is
 * not RUNNING, so the holder is an abandoned task, never the live one.
 */
import type { Command } from 'commander';
import { renderConnector, registerConnector, type ConnectorDefinition } from '../debezium/register';
import { replicationSlot, terminateSlotHolder, type ReplicationSlot } from '../postgres/replication';
import type { CliContext } from './context';
import { details, EXIT, notFound, refused, unavailable, usage } from './output';

interface ConnectorStatus {
  name: string;
  connector: { state: string; worker_id?: string };
  tasks: Array<{ id: number; state: string; worker_id?: string; trace?: string }>;
}

function definition(ctx: CliContext): ConnectorDefinition {
  try {
    return renderConnector(ctx.io.env);
  } catch (e) {
    throw usage(`${(e as Error).message} (source deploy/local/env.sh, or set it for your cluster)`);
  }
}

async function connect(ctx: CliContext, path: string, init?: RequestInit): Promise<Response> {
  const url = `${ctx.config.debezium.connectUrl.replace(/\/+$/, '')}${path}`;
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw unavailable(
      `Kafka Connect at ${ctx.config.debezium.connectUrl} could not be reached (${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}); set PEMS_SYNC_CONNECT_URL`,
    );
  }
}

export async function connectorStatus(ctx: CliContext, name: string): Promise<ConnectorStatus> {
  const res = await connect(ctx, `/connectors/${encodeURIComponent(name)}/status`);
  if (res.status === 404) throw notFound(`Kafka Connect has no connector ${name}: pems-sync connector register`);
  if (!res.ok) throw unavailable(`Kafka Connect answered ${res.status} for the status of ${name}: ${await res.text()}`);
  return (await res.json()) as ConnectorStatus;
}

/** Healthy: the connector and every task RUNNING. */
export function isRunning(s: ConnectorStatus): boolean {
  return s.connector.state === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING');
}

/** The first line of a task's stack trace (the cause Connect reports), if it failed. */
function failure(s: ConnectorStatus): string | null {
  const t = s.tasks.find((x) => x.state === 'FAILED' && x.trace);
  return t?.trace ? t.trace.split('\n')[0]!.slice(0, 300) : null;
}

export function registerConnectorCommands(program: Command, ctx: CliContext): void {
  const connector = program
    .command('connector')
    .description('the Debezium connector capturing pfa_modification, and its replication slot');

  connector
    .command('register')
    .description('create or update the connector from connectors/debezium/pfa-modification.json (idempotent)')
    .option('--json', 'print the rendered config (password stays a ${env:...} reference) as JSON')
    .addHelpText(
      'after',
      '\nPlaceholders come from the environment (deploy/local/env.sh): PGHOST, PGPORT, PGUSER, PGDATABASE,\nCDC_TOPIC_PREFIX, KAFKA_PARTITIONS, DEBEZIUM_CONNECTOR_NAME.\n\nExamples:\n  pems-sync connector register\n  PEMS_SYNC_CONNECT_URL=http://connect:8083 pems-sync connector register',
    )
    .action(async (o: { json?: boolean }) => {
      const def = definition(ctx);
      try {
        await registerConnector(ctx.config.debezium.connectUrl.replace(/\/+$/, ''), def);
      } catch (e) {
        if ((e as Error).message.startsWith('Kafka Connect refused')) throw refused((e as Error).message);
        throw unavailable(
          `Kafka Connect at ${ctx.config.debezium.connectUrl} could not be reached: ${(e as Error).message}`,
        );
      }
      ctx.emit(
        Boolean(o.json),
        def,
        () =>
          `${ctx.paint.ok('registered')} ${def.name} at ${ctx.config.debezium.connectUrl} (slot ${def.config['slot.name']})`,
      );
    });

  connector
    .command('status')
    .description("the connector's and its tasks' state, and who holds the replication slot")
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExit code 1 when the connector or a task is not RUNNING.\n\nExamples:\n  pems-sync connector status\n  pems-sync connector status --json',
    )
    .action(async (o: { json?: boolean }) => {
      const def = definition(ctx);
      const status = await connectorStatus(ctx, def.name);
      const slot = await replicationSlot(ctx.db, def.config['slot.name']!);
      ctx.emit(Boolean(o.json), { ...status, slot }, () =>
        details({
          connector: `${def.name}: ${status.connector.state}`,
          tasks: status.tasks.map((t) => `${t.id} ${t.state}`).join(', ') || 'none',
          failure: failure(status) ?? 'none',
          slot: slotLine(slot),
        }),
      );
      if (!isRunning(status)) process.exitCode = EXIT.FAILED;
    });

  connector
    .command('restart')
    .description('restart the connector and its tasks; with --free-slot first free a slot held by an abandoned task')
    .option(
      '--free-slot',
      "terminate the Postgres backend holding the connector's slot, only when the task is not RUNNING",
    )
    .option('--json', 'print the outcome as JSON')
    .addHelpText(
      'after',
      `
When a task stopped without releasing the replication slot, its successor fails with
"replication slot ... is active for PID ...". --free-slot terminates exactly that backend (checked
again at the moment of termination), and only while the connector's task is FAILED or not
running; a RUNNING task holds the slot legitimately, so that is refused (exit 6).

Examples:
  pems-sync connector restart
  pems-sync connector restart --free-slot`,
    )
    .action(async (o: { freeSlot?: boolean; json?: boolean }) => {
      const def = definition(ctx);
      const slotName = def.config['slot.name']!;
      const before = await connectorStatus(ctx, def.name);
      let freed: { pid: number } | null = null;
      if (o.freeSlot) {
        const slot = await replicationSlot(ctx.db, slotName);
        if (before.tasks.some((t) => t.state === 'RUNNING')) {
          throw refused(
            `the connector's task is RUNNING and holds slot ${slotName} legitimately: not terminating it (restart without --free-slot)`,
          );
        }
        if (slot?.active && slot.activePid !== null) {
          if (!(await terminateSlotHolder(ctx.adminDb, slotName, slot.activePid)))
            throw refused(`slot ${slotName} changed hands while checking; run again`);
          freed = { pid: slot.activePid };
        }
      }
      const res = await connect(
        ctx,
        `/connectors/${encodeURIComponent(def.name)}/restart?includeTasks=true&onlyFailed=false`,
        { method: 'POST' },
      );
      if (!res.ok && res.status !== 202 && res.status !== 204)
        throw unavailable(`Kafka Connect refused the restart (${res.status}): ${await res.text()}`);
      ctx.emit(
        Boolean(o.json),
        { connector: def.name, restarted: true, freedSlotHolder: freed },
        () =>
          `${ctx.paint.ok('restarted')} ${def.name}${freed ? ` after terminating backend ${freed.pid}, which held slot ${slotName}` : o.freeSlot ? ` (slot ${slotName} was not held)` : ''}; check with: pems-sync connector status`,
      );
    });
}

function slotLine(slot: ReplicationSlot | null): string {
  if (!slot) return 'missing (created when the connector first starts)';
  if (!slot.active)
    return `${slot.slotName} inactive${slot.lagBytes !== null ? `, ${slot.lagBytes} bytes behind` : ''}`;
  return `${slot.slotName} held by backend ${slot.activePid}${slot.holder?.applicationName ? ` (${slot.holder.applicationName})` : ''}${slot.lagBytes !== null ? `, ${slot.lagBytes} bytes behind` : ''}`;
}
