/**
 * CPU time (user + system) per process of the local stack, read from /proc/<pid>/stat, so a
 * benchmark can report CPU per modification for Postgres (the postmaster, its live backends and
 * the reaped ones it accounted), Kafka, Kafka Connect, the sink and "bench+simulator" (the
 * benchmark's own process: the simulator runs in it, the bench only polls a count meanwhile).
 *
 * Postgres is also split by whom its backends serve (postgresShares): the sink's connections
 * (application_name pems-sync-sink), the walsender Debezium streams from, the other client
 * backends (the benchmark committing the edits and reading counts), background processes
 * (checkpointer, WAL writer, autovacuum...), and "exited": backends that ended within the window,
 * whose CPU only the postmaster's reaped-children total still holds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TICKS_PER_SECOND = 100; // CLK_TCK on Linux

interface Stat {
  pid: number;
  ppid: number;
  ticks: number;
  childTicks: number;
}

function readStat(pid: number): Stat | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), childTicks: Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

function readPid(file: string): number | null {
  try {
    return Number(readFileSync(file, 'utf8').split('\n')[0]!.trim()) || null;
  } catch {
    return null;
  }
}

/** CPU seconds of a process and its descendants (live ones, and reaped ones it accounted). */
export function treeSeconds(root: number): number {
  const all: Stat[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = readStat(Number(d));
    if (s) all.push(s);
  }
  const byParent = new Map<number, Stat[]>();
  for (const s of all) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const rootStat = all.find((s) => s.pid === root);
  if (!rootStat) return 0;
  let ticks = rootStat.ticks + rootStat.childTicks;
  const stack = [...(byParent.get(root) ?? [])];
  while (stack.length > 0) {
    const s = stack.pop()!;
    ticks += s.ticks;
    stack.push(...(byParent.get(s.pid) ?? []));
  }
  return ticks / TICKS_PER_SECOND;
}

export type CpuSample = Record<string, number>;

/** Who a Postgres backend works for, from pg_stat_activity (pid → role). */
export type PostgresRoles = ReadonlyMap<number, string>;

/** CPU seconds of every live process whose parent is the postmaster, by pid. */
export function postgresBackendSeconds(): Map<number, number> {
  const state = process.env.PEMS_SYNC_STATE ?? join(process.cwd(), '.stack');
  const pg = readPid(join(state, 'postgres', 'postmaster.pid'));
  const out = new Map<number, number>();
  if (!pg) return out;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = readStat(Number(d));
    if (s && s.ppid === pg) out.set(s.pid, s.ticks / TICKS_PER_SECOND);
  }
  return out;
}

/** The SQL that names each backend's role for postgresShares. */
export const POSTGRES_ROLES_SQL = `SELECT pid,
    CASE WHEN backend_type = 'walsender' THEN 'walsender'
         WHEN backend_type <> 'client backend' THEN 'background'
         WHEN application_name = 'pems-sync-sink' THEN 'sink'
         ELSE 'bench' END AS role
  FROM pg_stat_activity`;

/**
 * Microseconds of Postgres CPU per modification by role between two readings of its backends.
 * A backend alive at both counts its difference; one that started within the window counts all
 * of its CPU; whatever the total moved beyond those is "exited" (backends that ended in the window).
 */
export function postgresShares(
  before: Map<number, number>,
  after: Map<number, number>,
  roles: PostgresRoles,
  totalSeconds: number,
  modifications: number,
): Record<string, number> {
  const seconds: Record<string, number> = { sink: 0, walsender: 0, bench: 0, background: 0 };
  let attributed = 0;
  for (const [pid, now] of after) {
    const used = now - (before.get(pid) ?? 0);
    const role = roles.get(pid) ?? 'background';
    seconds[role] = (seconds[role] ?? 0) + used;
    attributed += used;
  }
  seconds.exited = Math.max(0, totalSeconds - attributed);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(seconds)) out[k] = Math.round((v * 1e6) / Math.max(1, modifications));
  return out;
}

/** The stack's processes by name; the sinks' pids are passed in (they are the benchmark's children). */
export function cpuSample(sinkPids: number[] = []): CpuSample {
  const state = process.env.PEMS_SYNC_STATE ?? join(process.cwd(), '.stack');
  const out: CpuSample = {};
  const pg = readPid(join(state, 'postgres', 'postmaster.pid'));
  if (pg) out.postgres = treeSeconds(pg);
  for (const name of ['kafka', 'connect']) {
    const pid = readPid(join(state, 'run', `${name}.pid`));
    if (pid) out[name] = (readStat(pid)?.ticks ?? 0) / TICKS_PER_SECOND;
  }
  // Every sink instance counts: `sink` is their sum, and with more than one each has its own
  // `sink#1`, `sink#2`... in the order given.
  const perSink = sinkPids.map((pid) => (readStat(pid)?.ticks ?? 0) / TICKS_PER_SECOND);
  out.sink = perSink.reduce((a, s) => a + s, 0);
  if (perSink.length > 1) perSink.forEach((s, i) => (out[`sink#${i + 1}`] = s));
  const self = process.cpuUsage();
  out['bench+simulator'] = (self.user + self.system) / 1e6;
  return out;
}

/** Microseconds of CPU per modification, per process, between two samples. */
export function cpuPerModification(before: CpuSample, after: CpuSample, modifications: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after))
    out[k] = Math.round((((after[k] ?? 0) - (before[k] ?? 0)) * 1e6) / Math.max(1, modifications));
  return out;
}
