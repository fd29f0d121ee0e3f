/**
 * The check stage, pure: given one coalesced write and what is known about PEMS (the mirror,
 * or a record just read from PEMS), decide to write (on which version, with which changes) or
 * end with an outcome without calling PEMS.
 *
 * The order of the checks follows what a person would want explained first: the change itself
 * (field names, types, PEMS's business rules on the record after the change), then whether
 * PEMS moved underneath it.
 */
import { checkVersion, sameValue, type VersionCheck } from './conflicts';
import type { CoalescedWrite } from './grouping';
import type { Outcome } from './outcomes';
import type { PfaRecord } from './pfa-record';
import { validateChangeShape, validateRecord } from './validation';

export type WriteDecision =
  | {
      kind: 'write';
      /** The version the write carries (PEMS's optimistic lock). */
      version: number;
      rebased: boolean;
      /** The record the write applies onto, when known (to compute the mirror's next value). */
      onto: PfaRecord | null;
    }
  | { kind: 'outcome'; outcome: Outcome };

export interface DecideInput {
  write: CoalescedWrite;
  /** PEMS's record as best known: the mirror, or a fresh GET after a 409. Null: not known. */
  current: PfaRecord | null;
  /** The record as the user saw it (mirror history at the base version). */
  baseValues: Readonly<Record<string, unknown>> | PfaRecord | null;
  /** From a 409: the written fields PEMS changed after the expected version. */
  conflictingFields?: readonly string[] | null;
}

export function rejectedForFields(
  code: string,
  message: string,
  fieldErrors: Array<{ field: string; message: string }>,
): Outcome {
  return { kind: 'rejected', error: { code, message, fieldErrors } };
}

/** Field names, types and PEMS-owned fields of a delta; [] when fine. */
export function shapeErrors(delta: unknown): Array<{ field: string; message: string }> {
  return validateChangeShape(delta).map((e) => ({ field: e.field, message: e.message }));
}

export function decideWrite(input: DecideInput): WriteDecision {
  const { write, current, baseValues } = input;
  if (write.operation === 'delete') {
    // A soft delete carries no field changes; only the version matters (409 → recheck).
    return {
      kind: 'write',
      version: current?.version ?? write.baseVersion,
      rebased: current !== null && current.version !== write.baseVersion,
      onto: current,
    };
  }

  const shape = shapeErrors(write.changes);
  if (shape.length > 0) {
    return {
      kind: 'outcome',
      outcome: rejectedForFields('PEMS_SYNC_VALIDATION_FAILED', 'the change has fields PEMS does not accept', shape),
    };
  }

  // A record older than the write's base version is known to be stale: whoever produced the
  // write (a person, a conflict resolution on PEMS's newer version, a rollback) saw a newer PEMS
  // record than this. The mirror lags like that after a conflict (the sink read PEMS's newer
  // record but does not record it) until a restarted sink or a new lane takes the mirror as
  // "PEMS now". Judged against it, a value the stale record happens to hold looked "already
  // applied" and was never written. Treat it as unknown: write on the base version and let
  // PEMS's optimistic lock decide (409 -> recheck with a fresh GET).
  // Regression: tests/regression/stale-mirror-already-applied.test.ts
  if (current === null || current.version < write.baseVersion) {
    // Nothing (current) known about the record: PEMS validates and locks on the base version itself.
    return { kind: 'write', version: write.baseVersion, rebased: false, onto: null };
  }

  const after = { ...current, ...write.changes };
  const ruleErrors = validateRecord(after).map((e) => ({ field: e.field, message: e.message }));
  if (ruleErrors.length > 0) {
    return {
      kind: 'outcome',
      outcome: rejectedForFields(
        'PEMS_SYNC_VALIDATION_FAILED',
        'the record would break PEMS rules after this change',
        ruleErrors,
      ),
    };
  }

  const check: VersionCheck = checkVersion({
    changes: write.changes,
    baseValues: baseValues as Readonly<Record<string, unknown>> | null,
    baseVersion: write.baseVersion,
    current,
    conflictingFields: input.conflictingFields ?? null,
  });
  switch (check.kind) {
    case 'clean':
      return { kind: 'write', version: current.version, rebased: false, onto: current };
    case 'rebase':
      return { kind: 'write', version: check.onVersion, rebased: true, onto: current };
    case 'already_applied':
      return {
        kind: 'outcome',
        outcome: {
          kind: 'synced',
          rebased: false,
          alreadyApplied: true,
          pemsVersionBefore: current.version,
          pemsVersionAfter: current.version,
          fieldsWritten: [],
        },
      };
    case 'conflict':
      return { kind: 'outcome', outcome: { kind: 'conflict', pemsVersion: check.onVersion, fields: check.fields } };
    case 'unknown':
      // Base values are missing: write on the base version and let PEMS's lock tell us (409 with
      // conflictingFields), rather than guess.
      return { kind: 'write', version: write.baseVersion, rebased: false, onto: null };
  }
}

/** The record after a successful write, as the mirror should hold it. */
export function recordAfterWrite(
  onto: PfaRecord,
  write: CoalescedWrite,
  newVersion: number,
  updatedAt: string,
): PfaRecord {
  const next: PfaRecord = { ...onto, version: newVersion, updatedAt, updatedBy: write.modifiedBy };
  if (write.operation === 'delete') return { ...next, isDiscontinued: true };
  return { ...next, ...(write.changes as Partial<PfaRecord>) };
}

/**
 * Base values with Vanguard's own writes discounted. A field PEMS now holds at a value that
 * one of our own modifications wrote (or wants: an earlier edit folded into this write, a write
 * this sink made since the base version) was not moved by a PEMS user, so it is no conflict
 * for a later edit of the same PFA. This also covers a sink killed after PEMS applied its write
 * but before the outcome was recorded: on redelivery PEMS already holds our value.
 */
export function discountOwnWrites(
  baseValues: Readonly<Record<string, unknown>> | null,
  current: Readonly<Record<string, unknown>> | null,
  ownDeltas: ReadonlyArray<Readonly<Record<string, unknown>>>,
): Record<string, unknown> | null {
  if (!current || ownDeltas.length === 0) return baseValues ? { ...baseValues } : null;
  const out: Record<string, unknown> = baseValues ? { ...baseValues } : {};
  let touched = baseValues !== null;
  for (const delta of ownDeltas) {
    for (const [field, value] of Object.entries(delta)) {
      if (Object.prototype.hasOwnProperty.call(current, field) && sameValue(current[field], value)) {
        out[field] = current[field];
        touched = true;
      }
    }
  }
  return touched ? out : null;
}
