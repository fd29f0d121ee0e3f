/**
 * Idempotency keys for PEMS writes. A key is derived from what the write carries (the ids of the
 * pfa_modification rows it applies), never from the attempt: a retry after a timeout must send
 * the same key so PEMS replays the first outcome instead of writing twice (schemas/openapi/pems-api.json,
 * "Idempotency").
 */
import { createHash } from 'node:crypto';

export const IDEMPOTENCY_KEY_PREFIX = 'pems-sync:';

/**
 * 'pems-sync:' + sha256 hex of the sorted, de-duplicated modification ids. `operation` separates
 * writes that carry the same modifications but are different requests (an update and a delete).
 * Ids are compared as strings, so 7 and '7' name the same modification.
 */
export function idempotencyKeyFor(modificationIds: Iterable<string | number | bigint>, operation = 'update'): string {
  const ids = [...new Set([...modificationIds].map((id) => String(id)))].sort();
  if (ids.length === 0) throw new RangeError('an idempotency key needs at least one modification id');
  for (const id of ids) if (id === '') throw new RangeError('modification ids must not be empty');
  const digest = createHash('sha256')
    // JSON keeps ids containing commas from colliding with two shorter ids.
    .update(JSON.stringify({ op: operation, ids }))
    .digest('hex');
  return `${IDEMPOTENCY_KEY_PREFIX}${digest}`;
}
