/**
 * Keyset pagination: the cursor is the sort key of the last row returned, opaque to callers
 * (base64url JSON). Offsets would skip or repeat rows while the sink keeps inserting.
 */
import { ApiError, notFound } from './errors';

export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor<T extends Record<string, unknown>>(
  cursor: string | undefined,
  check: (v: Record<string, unknown>) => v is T,
): T | undefined {
  if (cursor === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    parsed === null ||
    typeof parsed !== 'object' ||
    Array.isArray(parsed) ||
    !check(parsed as Record<string, unknown>)
  ) {
    throw new ApiError(400, 'VALIDATION_FAILED', 'cursor is not one this API issued', {
      fieldErrors: [{ field: 'cursor', message: 'invalid cursor' }],
    });
  }
  return parsed as T;
}

/** Cursor of (created_at, id) lists: created_at as ISO text, id a uuid. */
export interface TimeIdKey extends Record<string, unknown> {
  t: string;
  id: string;
}

/** The timestamps this API puts in cursors: RFC 3339 with up to microseconds, years 0001-9999. */
const CURSOR_TIME = /^(?!0000-)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

export function isTimeIdKey(v: Record<string, unknown>): v is TimeIdKey {
  return (
    typeof v.t === 'string' &&
    CURSOR_TIME.test(v.t) &&
    !Number.isNaN(Date.parse(v.t)) &&
    typeof v.id === 'string' &&
    UUID_RE.test(v.id)
  );
}

/** Cursor of bigint-id lists (audit, notifications): the id as a decimal string. */
export interface IdKey extends Record<string, unknown> {
  id: string;
}

export function isIdKey(v: Record<string, unknown>): v is IdKey {
  return typeof v.id === 'string' && /^\d{1,19}$/.test(v.id) && BigInt(v.id) <= 9223372036854775807n;
}

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const UUID_RE = new RegExp(UUID_PATTERN);

/** One page of a keyset list: the rows and, when the page is full, the cursor after its last row. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The page answer of every list route: a next cursor only when the page came back full. */
export function pageOf<T>(items: T[], limit: number, keyOf: (last: T) => Record<string, unknown>): Page<T> {
  const last = items[items.length - 1];
  return { items, nextCursor: items.length === limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

/** The (created_at, id) key of a row: conflicts, dead letters, rollback requests. */
export const timeIdOf = (r: { createdAt: string; id: string }): TimeIdKey => ({ t: r.createdAt, id: r.id });

/** The bigint id key of a row: audit entries, notifications. */
export const idOf = (r: { id: string }): IdKey => ({ id: r.id });

/** The value, or a 404 naming what was not found (`conflict <id>` → "conflict <id> not found"). */
export function orNotFound<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw notFound(what);
  return value;
}
