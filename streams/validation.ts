/**
 * PEMS business rules (schemas/openapi/pems-api.json, "Validation"). Pure: no I/O.
 *
 * Used twice on purpose: the simulator answers with exactly these errors, and the sink checks a
 * change before it spends a request on it. One implementation means the connector's pre-write
 * check can never disagree with what the simulator would say.
 */
import { EDITABLE_FIELDS, isEditableField, isPemsOwnedField, type EditableField, type PfaRecord } from './pfa-record';

import type { FieldError } from './field-error';

export type { FieldError } from './field-error';

/** Contract limits, in characters. */
export const DESCRIPTION_MAX_LENGTH = 500;
export const NOTES_MAX_LENGTH = 2000;

export const DOR_VALUES = ['BEO', 'PROJECT'] as const;
export const SOURCE_VALUES = ['Rental', 'Purchase'] as const;

export type FieldKind = 'date' | 'money' | 'boolean' | 'string';

/** How each editable field is typed on the wire. Every editable field appears exactly once. */
export const FIELD_KINDS: Record<EditableField, FieldKind> = {
  forecastStart: 'date',
  forecastEnd: 'date',
  actualEnd: 'date',
  monthlyRate: 'money',
  purchasePrice: 'money',
  isDiscontinued: 'boolean',
  isFundsTransferable: 'boolean',
  forecastCategory: 'string',
  category: 'string',
  source: 'string',
  dor: 'string',
  equipment: 'string',
  description: 'string',
  notes: 'string',
};

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/** 'YYYY-MM-DD' and a day that exists on the calendar (2026-02-30 is refused). */
export function isCalendarDate(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = DATE_PATTERN.exec(value);
  if (!m) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  // Day 0 of the next month is the last day of this one; UTC avoids DST edges.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day <= daysInMonth;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function typeError(field: string, kind: FieldKind, value: unknown): FieldError | undefined {
  switch (kind) {
    case 'date':
      if (value === null || isCalendarDate(value)) return undefined;
      return { field, code: 'VALIDATION_FAILED', message: `${field} must be a calendar date 'YYYY-MM-DD' or null` };
    case 'money':
      if (value === null || (typeof value === 'number' && Number.isFinite(value))) return undefined;
      return { field, code: 'VALIDATION_FAILED', message: `${field} must be a finite number or null` };
    case 'boolean':
      // Booleans are never null in PEMS (isDiscontinued, isFundsTransferable are flags).
      if (typeof value === 'boolean') return undefined;
      return { field, code: 'VALIDATION_FAILED', message: `${field} must be a boolean` };
    case 'string':
      if (value === null || typeof value === 'string') return undefined;
      return { field, code: 'VALIDATION_FAILED', message: `${field} must be a string or null` };
  }
}

/**
 * The shape of a `changes` object: a plain object naming only editable fields, each with the
 * wire type the contract gives it. Business rules that need the whole record live in
 * validateRecord.
 */
export function validateChangeShape(changes: unknown): FieldError[] {
  if (!isPlainObject(changes)) {
    return [{ field: 'changes', code: 'VALIDATION_FAILED', message: 'changes must be a JSON object' }];
  }
  const errors: FieldError[] = [];
  for (const [field, value] of Object.entries(changes)) {
    if (isPemsOwnedField(field)) {
      errors.push({ field, code: 'FIELD_NOT_EDITABLE', message: `${field} is owned by PEMS and cannot be written` });
      continue;
    }
    if (!isEditableField(field)) {
      errors.push({ field, code: 'FIELD_NOT_EDITABLE', message: `${field} is not an editable PFA field` });
      continue;
    }
    const err = typeError(field, FIELD_KINDS[field], value);
    if (err) errors.push(err);
  }
  return errors;
}

/**
 * The contract's rules on the record as it would be after the change. Accepts a partial record
 * (the sink may only know some fields): a rule whose inputs are absent is skipped, while a
 * present null is judged (a Rental with monthlyRate null is invalid).
 */
export function validateRecord(after: Partial<PfaRecord> | Record<string, unknown>): FieldError[] {
  const r = after as Record<string, unknown>;
  const has = (f: string): boolean => Object.prototype.hasOwnProperty.call(r, f);
  const errors: FieldError[] = [];
  const fail = (field: string, message: string): void => {
    errors.push({ field, code: 'VALIDATION_FAILED', message });
  };

  for (const f of ['forecastStart', 'forecastEnd', 'actualEnd'] as const) {
    if (has(f) && r[f] !== null && !isCalendarDate(r[f])) fail(f, `${f} must be a calendar date 'YYYY-MM-DD'`);
  }
  const start = r.forecastStart;
  const end = r.forecastEnd;
  // ISO dates compare correctly as strings.
  if (isCalendarDate(start) && isCalendarDate(end) && end < start) {
    fail('forecastEnd', `forecastEnd (${end}) must be on or after forecastStart (${start})`);
  }

  if (has('dor') && !(DOR_VALUES as readonly unknown[]).includes(r.dor)) {
    fail('dor', `dor must be one of ${DOR_VALUES.join(', ')}`);
  }
  if (has('source') && !(SOURCE_VALUES as readonly unknown[]).includes(r.source)) {
    fail('source', `source must be one of ${SOURCE_VALUES.join(', ')}`);
  }

  for (const f of ['monthlyRate', 'purchasePrice'] as const) {
    const v = r[f];
    if (!has(f) || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(f, `${f} must be a finite number`);
    else if (v < 0) fail(f, `${f} must not be negative`);
  }
  const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (r.source === 'Rental' && has('monthlyRate') && !positive(r.monthlyRate)) {
    if (!errors.some((e) => e.field === 'monthlyRate')) fail('monthlyRate', 'a Rental needs monthlyRate > 0');
  }
  if (r.source === 'Purchase' && has('purchasePrice') && !positive(r.purchasePrice)) {
    if (!errors.some((e) => e.field === 'purchasePrice')) fail('purchasePrice', 'a Purchase needs purchasePrice > 0');
  }

  const maxLength = (f: 'description' | 'notes', max: number): void => {
    const v = r[f];
    if (typeof v === 'string' && v.length > max) fail(f, `${f} must be at most ${max} characters (got ${v.length})`);
  };
  maxLength('description', DESCRIPTION_MAX_LENGTH);
  maxLength('notes', NOTES_MAX_LENGTH);
  return errors;
}

/** The record after applying a change (used by both the simulator and the pre-write check). */
export function applyChanges<T extends object>(record: T, changes: Record<string, unknown>): T {
  return { ...record, ...changes };
}

/** Every editable field name, exported for callers that build change sets. */
export const EDITABLE_FIELD_NAMES: readonly string[] = EDITABLE_FIELDS;
