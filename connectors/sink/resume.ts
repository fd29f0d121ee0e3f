/**
 * Resuming what a stopped (killed, or taken-over) instance left: its write-ahead intents
 * (connectors/sink/write.ts stores one before each request). An intent's item is re-sent exactly
 * (same body, same idempotency key): if PEMS applied it, PEMS replays that first outcome; if not,
 * it is applied now. Either way PEMS holds that write at the version it answers, and the
 * modifications it carried must be recorded at that version, and only those.
 *
 * The write in hand after a restart need not be the set the intent carried: new edits of the
 * PFA may have been folded in (the restart fetched more), or the batch may have ended inside the
 * set. So the intent is matched by overlap, not by equality: the write's first modifications that
 * the intent carried are recorded at the intent's version, and the rest of the write goes on as
 * a write of its own. (Before: an intent covering only part of the write was replayed and then
 * the whole write sent again, so PEMS applied those edits twice and the version of the first
 * application was recorded by nobody: the sigkill scenario's orphan_write findings.)
 */
import type { BatchItemResult, PemsClient } from '../pems';
import type { BatchWriter } from './write';

/** The part of the batch writer a write uses (tests pass a fake). */
export type BatchUpdater = Pick<BatchWriter, 'update'>;
import type { LaneItem, WriteIntent } from './work';

export interface ResumedIntent {
  intent: WriteIntent;
  /** The write's leading items that the intent carried: recorded at `result.newVersion`. */
  applied: LaneItem[];
  /** The rest of the write, in order: a write of their own. */
  rest: LaneItem[];
  result: BatchItemResult & { newVersion: number };
  at: string;
}

/** Intents of the write's items, each once, oldest first (as loaded). */
export function intentsOf(lists: ReadonlyArray<readonly WriteIntent[]>): WriteIntent[] {
  const seen = new Set<string>();
  const out: WriteIntent[] = [];
  for (const list of lists) {
    for (const i of list) {
      if (seen.has(i.key)) continue;
      seen.add(i.key);
      out.push(i);
    }
  }
  return out;
}

/**
 * The items an intent covers, when they lead the write: an intent that covers a later edit but
 * not an earlier one is not resumed here (recording it first would put the later edit before the
 * earlier one); the normal check decides for it.
 */
export function leadingCovered(items: readonly LaneItem[], intent: WriteIntent): LaneItem[] {
  const ids = new Set(intent.modificationIds);
  let n = 0;
  while (n < items.length && ids.has(items[n]!.modification.id)) n++;
  if (n === 0) return [];
  // An item of the intent after an item outside it: the order would not hold.
  if (items.slice(n).some((i) => ids.has(i.modification.id))) return [];
  return items.slice(0, n);
}

/** Re-sends the first applicable intent that PEMS answers as applied; null when none. */
export async function resumeIntent(
  items: readonly LaneItem[],
  intents: readonly WriteIntent[],
  opts: { writer: BatchUpdater; client: PemsClient; now: () => Date },
): Promise<ResumedIntent | null> {
  for (const intent of intents) {
    const applied = leadingCovered(items, intent);
    if (applied.length === 0) continue;
    const at = opts.now().toISOString();
    try {
      const result = await opts.writer.update(opts.client, intent.item, intent.modificationIds);
      if (result.status !== 'updated' || result.newVersion === undefined) continue;
      return { intent, applied, rest: items.slice(applied.length), result: result as ResumedIntent['result'], at };
    } catch {
      // Not applied, or PEMS unreachable: the normal path retries as usual.
    }
  }
  return null;
}
