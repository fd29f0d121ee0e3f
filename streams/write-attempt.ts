/**
 * What one PEMS write attempt leaves in the audit trail, decided from the error it ended with:
 * the attempt's result (from the retry classification), the answer as stored, and the fields
 * PEMS named in a 409 (anywhere in the error's cause chain).
 */
import { causeChain } from './errors';
import type { ErrorClass } from './retry';
import type { AttemptLog } from './record-entries';

export function attemptResultOf(cls: ErrorClass): AttemptLog['result'] {
  switch (cls) {
    case 'conflict':
      return 'conflict';
    case 'rate_limited':
      return 'rate_limited';
    case 'transient':
      return 'transient';
    case 'unrecoverable':
      return 'rejected';
    default:
      return 'error';
  }
}

/** The error as the audit entry keeps it: code, message and details, nothing else. */
export function attemptErrorBody(err: unknown): unknown {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; message?: unknown; details?: unknown };
    return { code: e.code ?? null, message: e.message ?? null, details: e.details ?? null };
  }
  return { message: String(err) };
}

/** The fields PEMS reported as conflicting (PEMS_SYNC_PEMS_CONFLICT's details), or null. */
export function conflictingFieldsOf(err: unknown): string[] | null {
  for (const e of causeChain(err)) {
    const c = e as { code?: unknown; details?: { conflictingFields?: unknown } };
    if (c.code === 'PEMS_SYNC_PEMS_CONFLICT' && Array.isArray(c.details?.conflictingFields))
      return c.details.conflictingFields as string[];
  }
  return null;
}
