/**
 * One failed item of a PEMS batch answer as the typed error the same answer to a single request
 * would have been (a 409 conflict, a 400 with its field errors, 404, 403, 422 for a reused key).
 */
import type { BatchItemResult, BatchItemStatus } from './api-types';
import { mapPemsError, type PemsError } from './errors';

const ITEM_STATUS: Record<Exclude<BatchItemStatus, 'updated'>, number> = {
  conflict: 409,
  not_found: 404,
  forbidden: 403,
  invalid: 400,
};

/** The typed error a failed batch item stands for (undefined for 'updated'). */
export function itemError(result: BatchItemResult): PemsError | undefined {
  if (result.status === 'updated') return undefined;
  const body = result.error ?? { error: result.status.toUpperCase() };
  const status = body.error === 'IDEMPOTENCY_KEY_REUSED' ? 422 : ITEM_STATUS[result.status];
  return mapPemsError(
    { message: body.message, response: { status, data: body, headers: {} } },
    `POST /pfa/batch item ${result.pfaId}`,
  );
}
