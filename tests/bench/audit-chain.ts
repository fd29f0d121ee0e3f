/**
 * `npx tsx tests/bench/audit-chain.ts`: what the audit chain costs per entry, as the recorder
 * writes it (appendAudit, keyed, AUDIT_BATCH entries per transaction for one organization):
 * entries/s and the updates of the hot chain-head row per entry (pg_stat_user_tables
 * n_tup_upd of audit_chain_head; the statistics are flushed before each reading), and the CPU its
 * Postgres backend spent per entry (user + system from /proc, so Postgres on this machine).
 *   AUDIT_ENTRIES=10000 AUDIT_BATCH=100
 */
import { readFileSync } from 'node:fs';
import { createDatabase } from '../../connectors/postgres/db';
import { appendAudit, type AuditEntry } from '../../connectors/postgres/audit';

const ENTRIES = Number(process.env.AUDIT_ENTRIES ?? 10_000);
const BATCH = Number(process.env.AUDIT_BATCH ?? 100);

async function headUpdates(db: ReturnType<typeof createDatabase>): Promise<number> {
  await db.raw('SELECT pg_stat_force_next_flush()');
  await new Promise((r) => setTimeout(r, 1100));
  const r = await db.raw(
    `SELECT n_tup_upd AS n FROM pg_stat_user_tables WHERE relname = 'audit_chain_head' AND schemaname = current_schema()`,
  );
  return Number((r.rows[0] as { n: string } | undefined)?.n ?? 0);
}

/** CPU seconds (user + system) of a process on this machine, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main(): Promise<void> {
  const db = createDatabase({ url: process.env.DATABASE_URL!, poolMax: 1 });
  const org = `AUD${Date.now().toString(36)}`.toUpperCase();
  await db('organization').insert({ id: org, name: org });
  const before = await headUpdates(db);
  const backend = Number(((await db.raw('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number }).pid);
  const cpuBefore = cpuSeconds(backend);
  const started = process.hrtime.bigint();
  for (let i = 0; i < ENTRIES; i += BATCH) {
    const entries: AuditEntry[] = Array.from({ length: Math.min(BATCH, ENTRIES - i) }, (_, j) => ({
      organizationId: org,
      pfaId: `PFA-${i + j}`,
      actor: 'system:bench',
      eventType: 'sync.outcome',
      details: { n: i + j },
    }));
    await appendAudit(db, entries);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const postgresCpu = cpuSeconds(backend) - cpuBefore;
  // Another connection's flush is not forced; read from the same pool after a pause.
  const after = await headUpdates(db);
  const result = {
    entries: ENTRIES,
    batch: BATCH,
    seconds: Number(seconds.toFixed(2)),
    entriesPerSecond: Math.round(ENTRIES / seconds),
    postgresCpuMicrosPerEntry: Math.round((postgresCpu * 1e6) / ENTRIES),
    headUpdatesPerEntry: Number(((after - before) / ENTRIES).toFixed(3)),
    loadavg: readFileSync('/proc/loadavg', 'utf8').trim(),
  };
  console.log(JSON.stringify(result));
  await db.destroy();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
