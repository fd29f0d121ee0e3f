/**
 * The read side's high-water mark, pure: pages come in (updatedAt, pfaId) order, so the newest
 * updatedAt produced in a pass becomes the next pass's updatedSince (connectors/source/poller.ts).
 */

/** Latest of two ISO/Date instants (null-tolerant), as a Date. */
export function laterOf(a: Date | null, b: string | null): Date | null {
  const bm = b === null ? NaN : Date.parse(b);
  if (Number.isNaN(bm)) return a;
  if (a === null || bm > a.getTime()) return new Date(bm);
  return a;
}

/** Newest parseable updatedAt of a page, or null (unparseable ones are the mirror's to refuse). */
export function newestUpdatedAt(records: readonly unknown[]): string | null {
  let best: number | null = null;
  let bestRaw: string | null = null;
  for (const r of records) {
    const u = typeof r === 'object' && r !== null ? (r as { updatedAt?: unknown }).updatedAt : undefined;
    if (typeof u !== 'string') continue;
    const ms = Date.parse(u);
    if (Number.isNaN(ms)) continue;
    if (best === null || ms > best) {
      best = ms;
      bestRaw = u;
    }
  }
  return bestRaw;
}
