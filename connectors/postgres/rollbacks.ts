/**
 * Rolling a PFA back to an earlier PEMS version, with four eyes: a perm_Sync member asks, a
 * different administrator of the organization approves, and the approval becomes a committed
 * modification (origin rollback) that the sink writes like any edit. The database refuses an
 * approval by the requester too (rollback_request_four_eyes), so a bug here cannot skip it.
 */
import type { Knex } from 'knex';
import { diffFields, type FieldDiff } from '../../streams/conflicts';
import { previewHash } from '../../streams/preview-hash';
import { EDITABLE_FIELDS, editableValues, type PfaRecord } from '../../streams/pfa-record';
import { appendAudit } from './audit';
import { ActionRefusedError } from './conflicts';

export interface HistoryEntry {
  version: number;
  changedBy: string | null;
  pemsUpdatedAt: string | null;
  origin: string;
  modificationIds: string[] | null;
  recordedAt: string;
}

export async function pfaHistory(
  db: Knex,
  organizationId: string,
  pfaId: string,
  opts: { limit: number; beforeVersion?: number },
): Promise<HistoryEntry[]> {
  const q = db('pfa_mirror_history').where({ organization_id: organizationId, pfa_id: pfaId });
  if (opts.beforeVersion !== undefined) q.where('version', '<', opts.beforeVersion);
  const rows = await q
    .orderBy('version', 'desc')
    .limit(opts.limit)
    .select('version', 'changed_by', 'pems_updated_at', 'origin', 'modification_ids', 'recorded_at');
  return rows.map((r) => ({
    version: Number(r.version),
    changedBy: r.changed_by,
    pemsUpdatedAt: r.pems_updated_at ? new Date(r.pems_updated_at).toISOString() : null,
    origin: r.origin,
    modificationIds: r.modification_ids,
    recordedAt: new Date(r.recorded_at).toISOString(),
  }));
}

export interface RollbackPreview {
  organizationId: string;
  pfaId: string;
  currentVersion: number;
  targetVersion: number;
  /** Per editable field that differs: `before` is PEMS now, `after` is the value at targetVersion. */
  changes: FieldDiff[];
  /** streams/preview-hash.ts of this diff on currentVersion: what an approval must carry. */
  previewHash: string;
}

/** Editable fields of the current mirror against history version `targetVersion`. */
export async function rollbackPreview(
  db: Knex | Knex.Transaction,
  organizationId: string,
  pfaId: string,
  targetVersion: number,
): Promise<RollbackPreview> {
  const current = await db('pfa_mirror')
    .where({ organization_id: organizationId, pfa_id: pfaId })
    .first('version', 'data');
  if (!current) throw new ActionRefusedError('not_found', 'NOT_FOUND', `PFA ${pfaId} not found`);
  const target = await db('pfa_mirror_history')
    .where({ organization_id: organizationId, pfa_id: pfaId, version: targetVersion })
    .first('data');
  if (!target)
    throw new ActionRefusedError(
      'not_found',
      'NOT_FOUND',
      `version ${targetVersion} of PFA ${pfaId} not found in the history`,
    );
  const changes = diffFields(
    editableValues(current.data as PfaRecord),
    editableValues(target.data as PfaRecord),
    EDITABLE_FIELDS,
  );
  const currentVersion = Number(current.version);
  return {
    organizationId,
    pfaId,
    currentVersion,
    targetVersion,
    changes,
    previewHash: previewHash({ organizationId, pfaId, fromVersion: currentVersion, targetVersion, changes }),
  };
}

export interface RollbackRequestRow {
  id: string;
  organizationId: string;
  pfaId: string;
  targetVersion: number;
  fromVersion: number;
  preview: FieldDiff[];
  /** The hash of preview on fromVersion: the approval body's previewHash. */
  previewHash: string;
  reason: string;
  requestedBy: string;
  status: string;
  decidedBy: string | null;
  decisionReason: string | null;
  decidedAt: string | null;
  modificationId: string | null;
  createdAt: string;
}

function toRequest(r: Record<string, any>): RollbackRequestRow {
  return {
    id: r.id,
    organizationId: r.organization_id,
    pfaId: r.pfa_id,
    targetVersion: Number(r.target_version),
    fromVersion: Number(r.from_version),
    preview: r.preview,
    previewHash: previewHash({
      organizationId: r.organization_id,
      pfaId: r.pfa_id,
      fromVersion: Number(r.from_version),
      targetVersion: Number(r.target_version),
      changes: r.preview,
    }),
    reason: r.reason,
    requestedBy: r.requested_by,
    status: r.status,
    decidedBy: r.decided_by,
    decisionReason: r.decision_reason,
    decidedAt: r.decided_at ? new Date(r.decided_at).toISOString() : null,
    modificationId: r.modification_id,
    createdAt: new Date(r.created_at).toISOString(),
  };
}

export async function listRollbackRequests(
  db: Knex,
  f: {
    organizationIds: readonly string[];
    status?: string;
    pfaId?: string;
    limit: number;
    after?: { t: string; id: string };
  },
): Promise<RollbackRequestRow[]> {
  const q = db('rollback_request').whereIn('organization_id', [...f.organizationIds]);
  if (f.status) q.where('status', f.status);
  if (f.pfaId) q.where('pfa_id', f.pfaId);
  if (f.after) q.whereRaw('(created_at, id) < (?::timestamptz, ?::uuid)', [f.after.t, f.after.id]);
  const rows = await q
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(f.limit);
  return rows.map(toRequest);
}

export async function getRollbackRequest(
  db: Knex | Knex.Transaction,
  organizationIds: readonly string[],
  id: string,
): Promise<RollbackRequestRow | null> {
  const row = await db('rollback_request')
    .where({ id })
    .whereIn('organization_id', [...organizationIds])
    .first();
  return row ? toRequest(row) : null;
}

export async function requestRollback(
  db: Knex,
  input: { organizationId: string; pfaId: string; targetVersion: number; reason: string; requestedBy: string },
): Promise<RollbackRequestRow> {
  return db.transaction(async (tx) => {
    const preview = await rollbackPreview(tx, input.organizationId, input.pfaId, input.targetVersion);
    if (preview.changes.length === 0) {
      throw new ActionRefusedError(
        'state',
        'NOTHING_TO_ROLL_BACK',
        `PFA ${input.pfaId} already holds the values of version ${input.targetVersion}`,
      );
    }
    const [row] = await tx('rollback_request')
      .insert({
        organization_id: input.organizationId,
        pfa_id: input.pfaId,
        target_version: input.targetVersion,
        from_version: preview.currentVersion,
        preview: JSON.stringify(preview.changes),
        reason: input.reason,
        requested_by: input.requestedBy,
      })
      .returning('*');
    await appendAudit(tx, {
      organizationId: input.organizationId,
      pfaId: input.pfaId,
      actor: input.requestedBy,
      eventType: 'rollback.requested',
      details: {
        rollbackRequestId: row.id,
        targetVersion: input.targetVersion,
        fromVersion: preview.currentVersion,
        changes: preview.changes,
        reason: input.reason,
      },
    });
    return toRequest(row);
  });
}

async function lockPending(
  tx: Knex.Transaction,
  organizationIds: readonly string[],
  id: string,
): Promise<Record<string, any>> {
  const row = await tx('rollback_request')
    .where({ id })
    .whereIn('organization_id', [...organizationIds])
    .forUpdate()
    .first();
  if (!row) throw new ActionRefusedError('not_found', 'NOT_FOUND', `rollback request ${id} not found`);
  if (row.status !== 'pending') {
    throw new ActionRefusedError(
      'state',
      'ROLLBACK_NOT_PENDING',
      `rollback request ${id} is ${row.status}, not pending`,
      { status: row.status },
    );
  }
  return row;
}

/**
 * Approval of exactly what the approver saw: `previewHash` must be the request's (its diff on
 * its fromVersion), and the diff taken again against the mirror now must still be that one on
 * that version. If PEMS moved since the request (another version, other fields), the approval
 * is refused with 409 ROLLBACK_STALE and nothing is written: the requester asks again on the
 * new version. The modification then sets exactly the previewed fields, on fromVersion.
 */
export async function approveRollback(
  db: Knex,
  input: { id: string; organizationIds: readonly string[]; approverId: string; previewHash: string; reason?: string },
): Promise<{
  request: RollbackRequestRow;
  modificationId: string;
  delta: Record<string, unknown>;
  baseVersion: number;
}> {
  try {
    return await db.transaction(async (tx) => {
      const req = await lockPending(tx, input.organizationIds, input.id);
      if (req.requested_by === input.approverId) {
        throw new ActionRefusedError(
          'forbidden',
          'FOUR_EYES_REQUIRED',
          'a rollback must be approved by an administrator other than the one who requested it',
          {
            requestedBy: req.requested_by,
          },
        );
      }
      const requested = toRequest(req);
      if (input.previewHash !== requested.previewHash) {
        throw new ActionRefusedError(
          'state',
          'PREVIEW_MISMATCH',
          `the approval's previewHash is not the one of rollback request ${req.id}: approve what the request shows`,
          {
            previewHash: requested.previewHash,
          },
        );
      }
      // Lock the mirror row: the version read below cannot move before the modification is committed.
      await tx('pfa_mirror')
        .where({ organization_id: req.organization_id, pfa_id: req.pfa_id })
        .forUpdate()
        .first('version');
      const preview = await rollbackPreview(tx, req.organization_id, req.pfa_id, Number(req.target_version));
      if (preview.previewHash !== requested.previewHash) {
        throw new ActionRefusedError(
          'state',
          'ROLLBACK_STALE',
          `PFA ${req.pfa_id} moved since the request (version ${requested.fromVersion} then, ${preview.currentVersion} now): request the rollback again`,
          {
            fromVersion: requested.fromVersion,
            currentVersion: preview.currentVersion,
            changesNow: preview.changes,
          },
        );
      }
      const delta = Object.fromEntries(preview.changes.map((c) => [c.field, c.after]));
      const [mod] = await tx('pfa_modification')
        .insert({
          organization_id: req.organization_id,
          pfa_id: req.pfa_id,
          // The author of the change is the requester; the approver is in the request and the audit.
          user_id: req.requested_by,
          operation: 'update',
          delta: JSON.stringify(delta),
          base_version: preview.currentVersion,
          change_reason: `rollback to version ${req.target_version}: ${req.reason}`,
          sync_status: 'committed',
          origin: 'rollback',
          committed_at: tx.fn.now(),
        })
        .returning(['id']);
      const [updated] = await tx('rollback_request')
        .where({ id: req.id })
        .update({
          status: 'approved',
          decided_by: input.approverId,
          decided_at: tx.fn.now(),
          decision_reason: input.reason ?? null,
          modification_id: mod.id,
          updated_at: tx.fn.now(),
        })
        .returning('*');
      await appendAudit(tx, {
        organizationId: req.organization_id,
        pfaId: req.pfa_id,
        modificationId: mod.id,
        actor: input.approverId,
        eventType: 'rollback.approved',
        details: {
          rollbackRequestId: req.id,
          requestedBy: req.requested_by,
          targetVersion: Number(req.target_version),
          baseVersion: preview.currentVersion,
          delta,
          ...(input.reason ? { reason: input.reason } : {}),
        },
      });
      return {
        request: toRequest(updated),
        modificationId: mod.id as string,
        delta,
        baseVersion: preview.currentVersion,
      };
    });
  } catch (err) {
    // The database's four-eyes constraint, should anything above ever let it through.
    if ((err as { constraint?: string }).constraint === 'rollback_request_four_eyes') {
      throw new ActionRefusedError(
        'forbidden',
        'FOUR_EYES_REQUIRED',
        'a rollback must be approved by an administrator other than the one who requested it',
      );
    }
    throw err;
  }
}

export async function rejectRollback(
  db: Knex,
  input: { id: string; organizationIds: readonly string[]; deciderId: string; reason: string },
): Promise<RollbackRequestRow> {
  return db.transaction(async (tx) => {
    const req = await lockPending(tx, input.organizationIds, input.id);
    const [updated] = await tx('rollback_request')
      .where({ id: req.id })
      .update({
        status: 'rejected',
        decided_by: input.deciderId,
        decided_at: tx.fn.now(),
        decision_reason: input.reason,
        updated_at: tx.fn.now(),
      })
      .returning('*');
    await appendAudit(tx, {
      organizationId: req.organization_id,
      pfaId: req.pfa_id,
      actor: input.deciderId,
      eventType: 'rollback.rejected',
      details: {
        rollbackRequestId: req.id,
        requestedBy: req.requested_by,
        targetVersion: Number(req.target_version),
        reason: input.reason,
      },
    });
    return toRequest(updated);
  });
}
