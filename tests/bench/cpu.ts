/**
 * CPU time (user + system) per process of the local stack, read from /proc/<pid>/stat, so a
 * benchmark can report CPU per modification for Postgres (the postmaster, its live backends and
 * the reaped ones it accounted), Kafka, Kafka Connect, the sink and "bench+simulator" (the
 * benchmark's own process: the simulator runs in it, the bench only polls a count meanwhile).
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
function treeSeconds(root: number): number {
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
