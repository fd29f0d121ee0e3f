/**
 * Edits folded into one write (streams/grouping.ts) are still judged one by one where it
 * matters: an edit that breaks PEMS rules on the record it was made on is rejected on its own,
 * and a conflict belongs only to the edits that touch a conflicting field. Pure and generic over
 * the work item, so the edge keeps whatever it carries alongside each modification.
 */
import type { WorkItem } from './grouping';
import type { PfaRecord } from './pfa-record';
import { validateRecord } from './validation';

export interface EditErrors<T extends WorkItem> {
  item: T;
  errors: Array<{ field: string; message: string }>;
}

/** Edits of a folded write that, applied alone to the record they were made on, break PEMS rules. */
export function invalidEdits<T extends WorkItem>(
  items: readonly T[],
  recordOf: (item: T) => PfaRecord | null | undefined,
): Array<EditErrors<T>> {
  const out: Array<EditErrors<T>> = [];
  for (const item of items) {
    if (item.modification.operation !== 'update') continue;
    const record = recordOf(item);
    if (!record) continue;
    const errors = validateRecord({ ...record, ...item.modification.delta }).map((e) => ({
      field: e.field,
      message: e.message,
    }));
    if (errors.length > 0) out.push({ item, errors });
  }
  return out;
}

/**
 * For a conflict of a write folded from several modifications: the modifications whose own
 * delta touches a conflicting field, and the rest (in commit order); null when there is nothing
 * to split (all or none of them overlap).
 */
export function splitConflict<T extends WorkItem>(
  items: readonly T[],
  fields: readonly string[],
): { conflicted: T[]; rest: T[] } | null {
  if (items.length < 2) return null;
  const hit = new Set(fields);
  const conflicted = items.filter((i) => Object.keys(i.modification.delta).some((f) => hit.has(f)));
  if (conflicted.length === 0 || conflicted.length === items.length) return null;
  return { conflicted, rest: items.filter((i) => !conflicted.includes(i)) };
}
