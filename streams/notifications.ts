/**
 * What a notification can say, named once: its kinds and the payload each carries. Rows for a
 * user (user_id set: their edit's outcome) and for an organization's operators (user_id null:
 * the webhook dispatcher delivers dead_letter and pems_unreachable). Writers build rows with
 * notificationRow, so a kind and its payload cannot drift apart; readers get the payload back as
 * stored (older rows may carry fewer fields).
 */
import type { ConflictField } from './conflicts';
import type { OutcomeError } from './outcomes';

export interface NotificationPayloads {
  /** The sink found a conflict on the user's edit (needs a person). */
  conflict: { modificationId: string; pfaId: string; fields: string[] };
  /** The read side saw PEMS change a field the user's pending edit changes too (early warning). */
  conflict_warning: {
    conflictId: string;
    modificationId: string;
    pfaId: string;
    baseVersion: number;
    pemsVersion: number;
    pemsUpdatedBy: string | null | undefined;
    fields: ConflictField[] | Array<{ field: string }>;
  };
  rejected: { modificationId: string; pfaId: string; error: OutcomeError };
  failed: { modificationId: string; pfaId: string; error: OutcomeError };
  /** For the operators: an edit or an event went to the dead-letter topic. */
  dead_letter: { modificationId?: string; pfaId?: string; reason: string; errorCode?: string; deadLetterId?: string };
  /** For the operators: the sink stopped reaching PEMS for the organization. */
  pems_unreachable: { since: string; reason?: string };
}

export type NotificationKind = keyof NotificationPayloads;

export const NOTIFICATION_KINDS = [
  'conflict',
  'conflict_warning',
  'rejected',
  'failed',
  'dead_letter',
  'pems_unreachable',
] as const satisfies readonly NotificationKind[];

/** The kinds the operator webhooks deliver (rows with user_id null). */
export const OPERATOR_NOTIFICATION_KINDS = [
  'dead_letter',
  'pems_unreachable',
] as const satisfies readonly NotificationKind[];

export interface NotificationInsert {
  organization_id: string;
  user_id: string | null;
  kind: NotificationKind;
  payload: string;
}

/** The notification table's row for one notification (payload as JSON text). */
export function notificationRow<K extends NotificationKind>(
  organizationId: string,
  userId: string | null,
  kind: K,
  payload: NotificationPayloads[K],
): NotificationInsert {
  return { organization_id: organizationId, user_id: userId, kind, payload: JSON.stringify(payload) };
}
