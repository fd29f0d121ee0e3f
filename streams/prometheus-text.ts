/**
 * The few figures the console reads from the sinks' /metrics (Prometheus text format 0.0.4):
 * the sum of a metric's samples over all label sets, and rates between two scrapes.
 */
export type MetricSums = Map<string, number>;

/** Sum of every sample per metric name (labels folded together); comments and bad lines skipped. */
export function sumSamples(text: string): MetricSums {
  const out: MetricSums = new Map();
  for (const line of text.split('\n')) {
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
export function ratePerSecond(before: MetricSums | undefined, after: MetricSums, name: string, seconds: number): number | null {
  if (!before || seconds <= 0) return null;
  const a = before.get(name);
  const b = after.get(name);
  if (a === undefined || b === undefined || b < a) return null;
  return (b - a) / seconds;
}
