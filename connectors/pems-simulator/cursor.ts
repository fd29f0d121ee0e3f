/**
 * The simulator's paging cursor for GET /pfa: opaque to clients (base64url JSON of the last
 * updatedAt and pfaId served, and the organization it was issued to).
 */
import { isPlainObject } from '../../streams/validation';

/** A cursor this API did not issue, or issued to another organization (a 400 naming `cursor`). */
export class ListQueryError extends Error {}

/** Opaque to clients: base64url JSON of the last (updatedAt, pfaId) served and the org. */
export function encodeCursor(o: string, u: string, p: string): string {
  return Buffer.from(JSON.stringify({ o, u, p })).toString('base64url');
}

export function decodeCursor(cursor: string, organization: string): { u: string; p: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new ListQueryError('cursor is not a cursor this API issued');
  }
  if (
    !isPlainObject(parsed) ||
    typeof parsed.u !== 'string' ||
    typeof parsed.p !== 'string' ||
    typeof parsed.o !== 'string'
  ) {
    throw new ListQueryError('cursor is not a cursor this API issued');
  }
  if (parsed.o !== organization) throw new ListQueryError('cursor belongs to another organization');
  return { u: parsed.u, p: parsed.p };
}
