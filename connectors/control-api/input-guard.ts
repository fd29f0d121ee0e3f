/**
 * Input that JSON schema accepts but Postgres cannot store or compare (issue 13, item 10) is a
 * 400 naming the field, never a 500:
 * - text with a NUL character (text and jsonb refuse U+0000) or a lone UTF-16 surrogate (not
 *   UTF-8 at all): checked in every string and object key of the query, path and body;
 * - ids above int8 (format `int8` on BIGINT_ID), timestamps in year 0000 (DATE_TIME's pattern)
 *   and cursors whose key is not what this API issues (pagination.ts): in the schemas;
 * - anything else Postgres calls a data exception (SQLSTATE class 22) is answered 400 by the
 *   error handler, as a last net.
 */
import { ApiError } from './errors';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const INT8_MAX = 9223372036854775807n;

/** The ajv format of bigint ids: decimal, 1..19 digits, at most int8's maximum. */
export function isInt8(s: string): boolean {
  return /^[0-9]{1,19}$/.test(s) && BigInt(s) <= INT8_MAX;
}

function problem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character, which cannot be stored';
  if (LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate (not valid Unicode text)';
  return undefined;
}

/** The first unstorable string in `value` as {field, message}, or undefined. `where` is querystring, params or body. */
export function findUnstorableText(
  value: unknown,
  where: string,
  path = '',
): { field: string; message: string } | undefined {
  const at = (p: string): string => p || where;
  if (typeof value === 'string') {
    const why = problem(value);
    return why ? { field: at(path), message: `${where}${path ? ` ${path}` : ''} ${why}` } : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], where, path ? `${path}.${i}` : String(i));
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const child = path ? `${path}.${k}` : k;
      const keyWhy = problem(k);
      if (keyWhy)
        return { field: at(path), message: `${where}${path ? ` ${path}` : ''} has a field name that ${keyWhy}` };
      const found = findUnstorableText(v, where, child);
      if (found) return found;
    }
  }
  return undefined;
}

/** Throws the 400 for the first unstorable string of a request. */
export function guardRequestText(parts: { querystring?: unknown; params?: unknown; body?: unknown }): void {
  for (const [where, value] of Object.entries(parts)) {
    const found = findUnstorableText(value, where);
    if (found) throw new ApiError(400, 'VALIDATION_FAILED', found.message, { fieldErrors: [found] });
  }
}

/** A Postgres data exception (SQLSTATE 22xxx: invalid text, out of range, bad datetime…). */
export function isDataException(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}
