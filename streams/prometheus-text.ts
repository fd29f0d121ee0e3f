/**
 * The few figures the console reads from the sinks' /metrics (Prometheus text format 0.0.4):
 * the sum of a metric's samples over all label sets, and rates between two scrapes.
 */
export type MetricSums = Map<string, number>;

/**
 * Sum of every sample per metric name (labels folded together); bad lines skipped. A counter or
 * histogram declared by `# TYPE` without samples yet (a labelled counter never incremented) is 0.
 */
export function sumSamples(text: string): MetricSums {
  const out: MetricSums = new Map();
  for (const line of text.split('\n')) {
    const declared = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|histogram)\s*$/.exec(line);
    if (declared) {
      const names = declared[2] === 'counter' ? [declared[1]!] : [`${declared[1]}_count`, `${declared[1]}_sum`];
      for (const n of names) if (!out.has(n)) out.set(n, 0);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    if (!Number.isFinite(v)) continue;
    out.set(m[1]!, (out.get(m[1]!) ?? 0) + v);
  }
  return out;
}

/** Per-second increase of a counter between two scrapes; null without both or on a reset. */
export function ratePerSecond(
  before: MetricSums | undefined,
  after: MetricSums,
  name: string,
  seconds: number,
): number | null {
  if (!before || seconds <= 0) return null;
  const a = before.get(name);
  const b = after.get(name);
  if (a === undefined || b === undefined || b < a) return null;
  return (b - a) / seconds;
}
