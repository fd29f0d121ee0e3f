/**
 * What replaying a dead letter's modification would meet in PEMS now: applied on the current
 * version, or a conflict on the fields PEMS changed since the edit's base version (the same
 * field-level rule the sink uses: only overlapping changes conflict).
 */
import { sameValue } from './conflicts';

export interface ReplayPreview {
  /** The newest PEMS version known here, or null when the record has never been seen. */
  pemsVersion: number | null;
  conflictsOn: string[];
  /** Fields whose base value history does not hold, so the preview cannot tell. */
  unknown: string[];
}

export function previewReplay(i: {
  delta: Readonly<Record<string, unknown>>;
  baseVersion: number;
  baseRecord: Readonly<Record<string, unknown>> | null;
  now: { version: number; data: Readonly<Record<string, unknown>> } | null;
}): ReplayPreview {
  if (!i.now) return { pemsVersion: null, conflictsOn: [], unknown: [] };
  if (i.now.version <= i.baseVersion) return { pemsVersion: i.now.version, conflictsOn: [], unknown: [] };
  const conflictsOn: string[] = [];
  const unknown: string[] = [];
  for (const [field, mine] of Object.entries(i.delta)) {
    const pems = i.now.data[field] ?? null;
    if (!i.baseRecord) {
      if (!sameValue(pems, mine)) unknown.push(field);
      continue;
    }
    const base = i.baseRecord[field] ?? null;
    if (!sameValue(base, pems) && !sameValue(pems, mine)) conflictsOn.push(field);
  }
  return { pemsVersion: i.now.version, conflictsOn, unknown };
}
