/**
 * Early conflict warning: which fields of a pending modification a newer PEMS version has just
 * moved. Pure; the mirror stream (./mirror-stream.ts) runs it inside the mirror write's
 * transaction and records the result. (Pure logic belongs in streams/; it lives here while
 * the read side owns it alone.)
 *
 * The warning is a heads-up, not a verdict: the modification's sync_status is left alone and
 * the sink decides at write time (streams/conflicts.checkVersion). So the rule errs on the
 * quiet side: only a field the modification changes, that this PEMS version moved, and whose
 * new PEMS value differs from the user's value (PEMS holding the user's value already is no
 * conflict), and differs from the value the user based the edit on when that is known.
 */
import { sameValue } from '../../streams/conflicts';
import { IN_FLIGHT_STATUSES } from '../../streams/modification';
import { EDITABLE_FIELDS, type PfaRecord } from '../../streams/pfa-record';

/** A modification the sink has not written yet: a PEMS move now is a conflict later. */
export const PENDING_SYNC_STATUSES = IN_FLIGHT_STATUSES;

/** The shape of sync_conflict.fields. */
export interface WarningField {
  field: string;
  /** The value at the modification's base version (from mirror history), else the previous mirror value. */
  base: unknown;
  local: unknown;
  pems: unknown;
}

export interface EarlyWarningInput {
  /** The modification's delta: field → the user's new value. */
  delta: Readonly<Record<string, unknown>>;
  baseVersion: number;
  /** The mirror's record before this version. */
  previous: Readonly<Record<string, unknown>>;
  /** The new PEMS version. */
  current: PfaRecord;
  /** Editable values at baseVersion, when the mirror history has them. */
  baseValues?: Readonly<Record<string, unknown>> | null;
}

const ORDER = new Map<string, number>(EDITABLE_FIELDS.map((f, i) => [f, i]));

function valueOf(rec: Readonly<Record<string, unknown>>, field: string): unknown {
  return rec[field] ?? null;
}

/** Editable fields whose value differs between two versions of a record. */
export function movedFields(
  previous: Readonly<Record<string, unknown>>,
  current: Readonly<Record<string, unknown>>,
): string[] {
  return EDITABLE_FIELDS.filter((f) => !sameValue(valueOf(previous, f), valueOf(current, f)));
}

export function earlyWarningFields(input: EarlyWarningInput): WarningField[] {
  const { delta, baseVersion, previous, current, baseValues } = input;
  // A modification based on this version or a later one already saw it.
  if (current.version <= baseVersion) return [];
  const moved = new Set(movedFields(previous, current as unknown as Record<string, unknown>));
  const out: WarningField[] = [];
  const fields = Object.keys(delta).sort(
    (a, b) => (ORDER.get(a) ?? Infinity) - (ORDER.get(b) ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0),
  );
  for (const field of fields) {
    if (!moved.has(field)) continue;
    const local = delta[field] ?? null;
    const pems = valueOf(current as unknown as Record<string, unknown>, field);
    if (sameValue(local, pems)) continue;
    const baseKnown =
      baseValues !== null && baseValues !== undefined && Object.prototype.hasOwnProperty.call(baseValues, field);
    const base = baseKnown ? valueOf(baseValues, field) : valueOf(previous, field);
    // PEMS moved back to what the user saw: nothing to warn about.
    if (baseKnown && sameValue(base, pems)) continue;
    out.push({ field, base, local, pems });
  }
  return out;
}
