/**
 * A value a person typed for a conflicting field (the console's "Custom" choice), read with the
 * field's wire type: dates 'YYYY-MM-DD', money as a number, booleans true/false; an empty entry
 * is null where the field may be null. The record-level PEMS rules are checked afterwards on
 * the whole result (validateRecord), like any edit.
 */
import { isEditableField } from './pfa-record';
import { FIELD_KINDS, isCalendarDate } from './validation';

export type CustomValue = { ok: true; value: string | number | boolean | null } | { ok: false; message: string };

export function parseCustomValue(field: string, raw: string): CustomValue {
  if (!isEditableField(field)) return { ok: false, message: `${field} is not a field a person may edit` };
  const text = raw.trim();
  switch (FIELD_KINDS[field]) {
    case 'date':
      if (text === '') return { ok: true, value: null };
      return isCalendarDate(text)
        ? { ok: true, value: text }
        : { ok: false, message: `${field} must be a calendar date 'YYYY-MM-DD' (or empty for none)` };
    case 'money': {
      if (text === '') return { ok: true, value: null };
      const n = Number(text);
      return /^-?\d+(\.\d+)?$/.test(text) && Number.isFinite(n)
        ? { ok: true, value: n }
        : { ok: false, message: `${field} must be a number like 1250.50 (or empty for none)` };
    }
    case 'boolean':
      if (text === 'true' || text === 'false') return { ok: true, value: text === 'true' };
      return { ok: false, message: `${field} must be true or false` };
    case 'string':
      return { ok: true, value: raw === '' ? null : raw };
  }
}
