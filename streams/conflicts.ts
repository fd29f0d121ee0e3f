/**
 * Version check, field-level conflict detection, diffs and conflict resolution. Pure.
 *
 * Why a version mismatch is not a conflict by itself: PEMS (like HxGN EAM's recordid /
 * updatecount) bumps `version` on every write, including child-record activity (an actuals
 * posting, a labour booking) that changes no field of the record (schemas/openapi/pems-api.json). So the
 * check is per field: only a field the user changed AND PEMS changed to a different value
 * since the user's base is a conflict.
 */
import { PfaRecord, SYSTEM_FIELDS, EDITABLE_FIELDS } from './pfa-record';
import { Delta } from './modification';
import { PemsSyncError } from './errors';

export interface ConflictField {
  field: string;
  /** The value the user saw (at baseVersion); null with baseKnown=false when history is missing. */
  base: unknown;
  baseKnown: boolean;
  local: unknown;
  pems: unknown;
}

export type VersionCheck =
  /** PEMS is still at the base version: write as is. */
  | { kind: 'clean' }
  /** PEMS already holds the user's value for every changed field: record synced, write nothing. */
  | { kind: 'already_applied'; onVersion: number }
  /** PEMS moved, but not in the user's fields: write the same changes on `onVersion`. */
  | { kind: 'rebase'; onVersion: number; pemsMovedFields: string[]; alreadyAppliedFields: string[] }
  /** PEMS changed a field the user also changed, to another value: a person decides. */
  | { kind: 'conflict'; onVersion: number; fields: ConflictField[]; changes: Delta }
  /**
   * The version moved and we cannot tell which fields (no base values, no 409 details). The
   * edge writes on the base version; PEMS answers 409 with conflictingFields and the check runs
   * again with them (retry.nextStep → 'recheck').
   */
  | { kind: 'unknown'; onVersion: number; unknownFields: string[] };

/** PEMS's current record: a full PfaRecord, or at least its version and the fields needed. */
export type CurrentRecord = Pick<PfaRecord, 'version'> & Partial<PfaRecord>;

export interface CheckVersionInput {
  changes: Delta;
  /** Editable values at baseVersion (mirror history); null/undefined when not known. */
  baseValues?: Readonly<Record<string, unknown>> | null;
  baseVersion: number;
  current: CurrentRecord;
  /** From a 409 VERSION_CONFLICT: written fields PEMS changed after expectedVersion. */
  conflictingFields?: readonly string[] | null;
}

/** JSON value equality (field values are JSON scalars, but deltas may hold anything JSON). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function valueOf(rec: object, field: string): unknown {
  return (rec as Record<string, unknown>)[field] ?? null;
}

function has(rec: object | null | undefined, field: string): boolean {
  return rec !== null && rec !== undefined && Object.prototype.hasOwnProperty.call(rec, field);
}

export function checkVersion(input: CheckVersionInput): VersionCheck {
  const { changes, baseValues, baseVersion, current } = input;
  if (current.version === baseVersion) return { kind: 'clean' };
  const onVersion = current.version;
  const fromPems = input.conflictingFields ? new Set(input.conflictingFields) : null;

  const conflicts: ConflictField[] = [];
  const applied: string[] = [];
  const unknown: string[] = [];
  const changed = Object.keys(changes);
  for (const field of changed) {
    const local = changes[field];
    const pems = valueOf(current, field);
    if (sameValue(local, pems)) {
      applied.push(field);
      continue;
    }
    if (has(baseValues, field)) {
      const base = valueOf(baseValues!, field);
      if (!sameValue(base, pems)) conflicts.push({ field, base, baseKnown: true, local, pems });
    } else if (fromPems) {
      if (fromPems.has(field)) conflicts.push({ field, base: null, baseKnown: false, local, pems });
    } else {
      unknown.push(field);
    }
  }

  // Order matters: already_applied only when every changed field is already there (a lost
  // response of an earlier successful write, or two people making the same edit).
  if (changed.length > 0 && applied.length === changed.length) return { kind: 'already_applied', onVersion };
  if (conflicts.length > 0) return { kind: 'conflict', onVersion, fields: conflicts, changes: { ...changes } };
  if (unknown.length > 0) return { kind: 'unknown', onVersion, unknownFields: unknown };
  return {
    kind: 'rebase',
    onVersion,
    pemsMovedFields: movedFields(baseValues, current, fromPems),
    alreadyAppliedFields: applied,
  };
}

/** Fields PEMS changed since the base, as far as we can know: from base values, else from the 409. */
function movedFields(
  baseValues: Readonly<Record<string, unknown>> | null | undefined,
  current: CurrentRecord,
  fromPems: ReadonlySet<string> | null,
): string[] {
  if (baseValues) {
    return Object.keys(baseValues).filter(
      (f) => has(current, f) && !sameValue(valueOf(baseValues, f), valueOf(current, f)),
    );
  }
  return fromPems ? [...fromPems] : [];
}

export interface FieldDiff {
  field: string;
  before: unknown;
  after: unknown;
}

const SYSTEM: ReadonlySet<string> = new Set(SYSTEM_FIELDS);
const ORDER = new Map<string, number>(EDITABLE_FIELDS.map((f, i) => [f, i]));

/**
 * Field-level diff from `a` to `b` (rollback previews, audit). Keys of both sides, minus the
 * bookkeeping fields (version, updatedAt... always differ and are never written); a field
 * missing on one side counts as null. Editable fields come first in catalogue order, then any
 * others alphabetically, so previews are stable. `fields` restricts the comparison.
 */
export function diffFields(
  a: Readonly<Record<string, unknown>> | object,
  b: Readonly<Record<string, unknown>> | object,
  fields?: readonly string[],
): FieldDiff[] {
  const keys = fields
    ? [...new Set(fields)]
    : [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !SYSTEM.has(k));
  keys.sort((x, y) => (ORDER.get(x) ?? Infinity) - (ORDER.get(y) ?? Infinity) || (x < y ? -1 : x > y ? 1 : 0));
  const out: FieldDiff[] = [];
  for (const field of keys) {
    const before = valueOf(a, field);
    const after = valueOf(b, field);
    if (!sameValue(before, after)) out.push({ field, before, after });
  }
  return out;
}

export type Resolution = 'use_local' | 'use_pems' | 'merge';

export class ResolutionError extends PemsSyncError {
  constructor(message: string, details: Record<string, unknown>) {
    super('PEMS_SYNC_RESOLUTION_INVALID', message, { details });
  }
}

/**
 * The changes of the resolution modification a person's decision creates. Its base version is
 * `conflict.onVersion` (the PEMS version the person looked at).
 * - use_local: the user's changes as they were (PEMS's values in those fields are overwritten);
 * - use_pems: the user's changes minus the conflicting fields (may be empty: nothing to write);
 * - merge: the user's non-conflicting changes plus the caller's value for every conflicting
 *   field. Naming a field outside the conflict, or leaving a conflicting field out, is an error
 *   that names the fields: a merge must decide every conflict explicitly.
 */
export function applyResolution(
  conflict: Pick<Extract<VersionCheck, { kind: 'conflict' }>, 'fields' | 'changes'>,
  resolution: Resolution,
  mergedValues?: Readonly<Record<string, unknown>>,
): Delta {
  const conflicting = new Set(conflict.fields.map((f) => f.field));
  switch (resolution) {
    case 'use_local':
      return { ...conflict.changes };
    case 'use_pems': {
      const out: Delta = {};
      for (const [k, v] of Object.entries(conflict.changes)) if (!conflicting.has(k)) out[k] = v;
      return out;
    }
    case 'merge': {
      if (!mergedValues)
        throw new ResolutionError('merge needs values for the conflicting fields', { missing: [...conflicting] });
      const extra = Object.keys(mergedValues).filter((k) => !conflicting.has(k));
      if (extra.length > 0) {
        throw new ResolutionError(`merge names fields not in the conflict: ${extra.join(', ')}`, { fields: extra });
      }
      const missing = [...conflicting].filter((k) => !Object.prototype.hasOwnProperty.call(mergedValues, k));
      if (missing.length > 0) {
        throw new ResolutionError(`merge leaves conflicting fields undecided: ${missing.join(', ')}`, { missing });
      }
      return { ...conflict.changes, ...mergedValues };
    }
    default: {
      const never: never = resolution;
      throw new ResolutionError(`unknown resolution '${String(never)}'`, { resolution: never });
    }
  }
}
