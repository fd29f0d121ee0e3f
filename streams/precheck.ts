/**
 * The check stage's first decision, before any PEMS call: may this edit go at all? The
 * organization must have enabled sync, the user must still hold perm_Sync in it, and an update's
 * delta must have the shape PEMS accepts. Pure: the edge loads the facts, this decides.
 */
import { shapeErrors } from './check';
import type { Modification } from './modification';
import type { Outcome } from './outcomes';

/** A rejection decided before any PEMS call, or null when the edit may go on to PEMS. */
export function precheck(m: Modification, facts: { syncEnabled: boolean; permitted: boolean }): Outcome | null {
  if (!facts.syncEnabled) {
    return {
      kind: 'rejected',
      error: {
        code: 'PEMS_SYNC_SYNC_DISABLED',
        message: `organization ${m.organizationId} has not enabled sync to PEMS`,
      },
    };
  }
  if (!facts.permitted) {
    return {
      kind: 'rejected',
      error: {
        code: 'PEMS_SYNC_PERMISSION_DENIED',
        message: `user ${m.userId} does not hold perm_Sync in ${m.organizationId}`,
      },
    };
  }
  if (m.operation === 'update') {
    const errors = shapeErrors(m.delta);
    if (errors.length > 0) {
      return {
        kind: 'rejected',
        error: {
          code: 'PEMS_SYNC_VALIDATION_FAILED',
          message: 'the change has fields PEMS does not accept',
          fieldErrors: errors,
        },
      };
    }
  }
  return null;
}
