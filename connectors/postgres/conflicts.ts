/**
 * Conflicts as people see and resolve them. A resolution never writes to PEMS itself: it
 * becomes a new committed modification (origin conflict_resolution) based on the PEMS version
 * the person looked at, so it flows through CDC and the sink like any edit, and if PEMS moved
 * again meanwhile the sink's version check makes it a new conflict, never a blind overwrite.
 */
import type { Knex } from 'knex';
import { ACTION_REFUSALS, PemsSyncError, type ActionRefusal } from '../../streams/errors';
import { applyResolution, ResolutionError, type ConflictField, type Resolution } from '../../streams/conflicts';
import { validateChangeShape, validateRecord, type FieldError } from '../../streams/validation';
import { appendAudit } from './audit';

/**
 * A person's action the data refuses: `kind` says why (missing or not visible, wrong state,
 * invalid input, not allowed) and `reason` is a stable code. Shared by the control API's
 * repositories (conflicts, rollbacks, dead letters); the HTTP edge maps kind to a status.
 */
export class ActionRefusedError extends PemsSyncError {
  constructor(
    readonly kind: 'not_found' | 'state' | 'invalid' | 'forbidden',
    readonly reason: ActionRefusal,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(ACTION_REFUSALS[reason], message, { details });
  }
}

export interface ConflictRow {
  id: string;
  organizationId: string;
  pfaId: string;
  modificationId: string;
  baseVersion: number;
  pemsVersion: number;
  fields: Array<Pick<ConflictField, 'field' | 'base' | 'local' | 'pems'>>;
  autoMergeFields: string[];
  status: string;
  resolution: string | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
  resolutionModificationId: string | null;
  detectedBy: string;
  createdAt: string;
  /** The conflicting modification: its author, its changes, its status now. */
  modification: { userId: string; delta: Record<string, unknown>; syncStatus: string; changeReason: string | null };
}

export interface ConflictFilter {
  organizationIds: readonly string[];
  status?: string;
  pfaId?: string;
  /** The author of the conflicting modification. */
  userId?: string;
  /** Conflicts with this field among their conflicting fields. */
  field?: string;
  createdAfter?: string;
  createdBefore?: string;
  limit: number;
  /** Keyset: rows strictly older than (createdAt, id). */
  after?: { t: string; id: string };
}

const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

function conflictQuery(db: Knex | Knex.Transaction): Knex.QueryBuilder {
  return db('sync_conflict as c')
    .join('pfa_modification as m', 'm.id', 'c.modification_id')
    .select(
      'c.*',
      db.raw(`to_char(c.created_at AT TIME ZONE 'UTC', ${ISO_US}) AS created_at_iso`),
      'm.user_id as m_user_id',
      'm.delta as m_delta',
      'm.sync_status as m_sync_status',
      'm.change_reason as m_change_reason',
    );
}

function toConflict(r: Record<string, any>): ConflictRow {
  return {
    id: r.id,
    organizationId: r.organization_id,
    pfaId: r.pfa_id,
    modificationId: r.modification_id,
    baseVersion: Number(r.base_version),
    pemsVersion: Number(r.pems_version),
    fields: r.fields,
    autoMergeFields: r.auto_merge_fields,
    status: r.status,
    resolution: r.resolution,
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolved_at ? new Date(r.resolved_at).toISOString() : null,
    resolutionModificationId: r.resolution_modification_id,
    detectedBy: r.detected_by,
    createdAt: r.created_at_iso,
    modification: {
      userId: r.m_user_id,
      delta: r.m_delta,
      syncStatus: r.m_sync_status,
      changeReason: r.m_change_reason,
    },
  };
}

export async function listConflicts(db: Knex, f: ConflictFilter): Promise<ConflictRow[]> {
  const q = conflictQuery(db).whereIn('c.organization_id', [...f.organizationIds]);
  if (f.status) q.where('c.status', f.status);
  if (f.pfaId) q.where('c.pfa_id', f.pfaId);
  if (f.userId) q.where('m.user_id', f.userId);
  if (f.field) q.whereRaw('c.fields @> ?::jsonb', [JSON.stringify([{ field: f.field }])]);
  if (f.createdAfter) q.where('c.created_at', '>=', f.createdAfter);
  if (f.createdBefore) q.where('c.created_at', '<', f.createdBefore);
  if (f.after) q.whereRaw('(c.created_at, c.id) < (?::timestamptz, ?::uuid)', [f.after.t, f.after.id]);
  const rows = await q
    .orderBy([
      { column: 'c.created_at', order: 'desc' },
      { column: 'c.id', order: 'desc' },
    ])
    .limit(f.limit);
  return rows.map(toConflict);
}

/** One conflict if it belongs to one of `organizationIds`; null otherwise (the caller answers 404 either way). */
export async function getConflict(
  db: Knex | Knex.Transaction,
  organizationIds: readonly string[],
  id: string,
): Promise<ConflictRow | null> {
  const row = await conflictQuery(db)
    .where('c.id', id)
    .whereIn('c.organization_id', [...organizationIds])
    .first();
  return row ? toConflict(row) : null;
}

/** Whether the modification has an open conflict already (inside the caller's transaction). */
export async function hasOpenConflict(db: Knex | Knex.Transaction, modificationId: string): Promise<boolean> {
  const open = await db('sync_conflict').where({ modification_id: modificationId, status: 'open' }).first('id');
  return open !== undefined;
}

export interface EarlyWarningConflict {
  organizationId: string;
  pfaId: string;
  modificationId: string;
  baseVersion: number;
  pemsVersion: number;
  fields: ReadonlyArray<Pick<ConflictField, 'field' | 'base' | 'local' | 'pems'>>;
}

/** Opens a conflict the read side detected (detected_by 'early_warning'); its id. */
export async function insertEarlyWarningConflict(
  db: Knex | Knex.Transaction,
  c: EarlyWarningConflict,
): Promise<string> {
  const [conflict] = (await db('sync_conflict')
    .insert({
      organization_id: c.organizationId,
      pfa_id: c.pfaId,
      modification_id: c.modificationId,
      base_version: c.baseVersion,
      pems_version: c.pemsVersion,
      fields: JSON.stringify(c.fields),
      status: 'open',
      detected_by: 'early_warning',
    })
    .returning('id')) as Array<{ id: string }>;
  return conflict!.id;
}

export interface ResolveInput {
  conflictId: string;
  organizationIds: readonly string[];
  resolverId: string;
  resolution: Resolution;
  /** merge: a value for every conflicting field, nothing else. */
  values?: Record<string, unknown>;
  reason?: string;
}

export interface ResolveResult {
  conflict: ConflictRow;
  /** The new committed modification; null when use_pems leaves nothing to write. */
  modification: { id: string; baseVersion: number; delta: Record<string, unknown> } | null;
}

function fieldErrorsBody(errors: FieldError[]): Record<string, unknown> {
  return { fieldErrors: errors.map((e) => ({ field: e.field, message: e.message, code: e.code })) };
}

/**
 * One transaction: lock the conflict (must be open) and its modification (must be in
 * conflict), compute the resolution's changes (streams/conflicts applyResolution), check them
 * against the record as PEMS had it at the conflict's version, insert the committed
 * modification, supersede the old one, resolve the conflict, audit.
 */
export async function resolveConflict(db: Knex, input: ResolveInput): Promise<ResolveResult> {
  return db.transaction(async (tx) => {
    const locked = await tx('sync_conflict')
      .where({ id: input.conflictId })
      .whereIn('organization_id', [...input.organizationIds])
      .forUpdate()
      .first();
    if (!locked) throw new ActionRefusedError('not_found', 'NOT_FOUND', `conflict ${input.conflictId} not found`);
    if (locked.status !== 'open') {
      throw new ActionRefusedError(
        'state',
        'CONFLICT_NOT_OPEN',
        `conflict ${input.conflictId} is ${locked.status}, not open`,
        { status: locked.status },
      );
    }
    const mod = await tx('pfa_modification').where({ id: locked.modification_id }).forUpdate().first();
    if (!mod || mod.sync_status !== 'conflict') {
      throw new ActionRefusedError(
        'state',
        'MODIFICATION_NOT_IN_CONFLICT',
        `modification ${locked.modification_id} is ${mod?.sync_status ?? 'missing'}, not in conflict`,
        {
          modificationId: locked.modification_id,
          syncStatus: mod?.sync_status ?? null,
        },
      );
    }

    const fields = (locked.fields as ConflictRow['fields']).map((f) => ({ ...f, baseKnown: true }));
    if (input.resolution === 'merge') {
      const shape = validateChangeShape(input.values ?? {});
      if (shape.length > 0)
        throw new ActionRefusedError(
          'invalid',
          'VALIDATION_FAILED',
          `merged values are invalid: ${shape.map((e) => e.message).join('; ')}`,
          fieldErrorsBody(shape),
        );
    }
    let delta: Record<string, unknown>;
    try {
      delta = applyResolution(
        { fields, changes: mod.delta as Record<string, unknown> },
        input.resolution,
        input.values,
      );
    } catch (err) {
      if (err instanceof ResolutionError)
        throw new ActionRefusedError('invalid', 'RESOLUTION_INVALID', err.message, err.details);
      throw err;
    }

    // The record the resolution is written on: PEMS at the conflict's version (history), else
    // the mirror, else what the conflict itself says PEMS holds. Only errors the change
    // introduces count: a rule PEMS's own record already breaks is not the person's doing.
    const baseVersion = Number(locked.pems_version);
    const hist = await tx('pfa_mirror_history')
      .where({ organization_id: locked.organization_id, pfa_id: locked.pfa_id, version: baseVersion })
      .first('data');
    const mirror = hist
      ? null
      : await tx('pfa_mirror').where({ organization_id: locked.organization_id, pfa_id: locked.pfa_id }).first('data');
    const pemsRecord: Record<string, unknown> =
      hist?.data ?? mirror?.data ?? Object.fromEntries(fields.map((f) => [f.field, f.pems]));
    const known = new Set(validateRecord(pemsRecord).map((e) => `${e.field}\u0000${e.message}`));
    const introduced = validateRecord({ ...pemsRecord, ...delta }).filter(
      (e) => !known.has(`${e.field}\u0000${e.message}`),
    );
    if (Object.keys(delta).length > 0 && introduced.length > 0) {
      throw new ActionRefusedError(
        'invalid',
        'VALIDATION_FAILED',
        `the resolved record breaks PEMS rules: ${introduced.map((e) => e.message).join('; ')}`,
        fieldErrorsBody(introduced),
      );
    }

    let created: ResolveResult['modification'] = null;
    if (Object.keys(delta).length > 0) {
      const [row] = await tx('pfa_modification')
        .insert({
          organization_id: locked.organization_id,
          pfa_id: locked.pfa_id,
          user_id: input.resolverId,
          operation: mod.operation,
          delta: JSON.stringify(delta),
          base_version: baseVersion,
          change_reason: input.reason ?? `conflict ${locked.id} resolved with ${input.resolution}`,
          sync_status: 'committed',
          origin: 'conflict_resolution',
          supersedes_id: mod.id,
          committed_at: tx.fn.now(),
        })
        .returning(['id']);
      created = { id: row.id, baseVersion, delta };
    }
    await tx('pfa_modification').where({ id: mod.id }).update({ sync_status: 'superseded', updated_at: tx.fn.now() });
    await tx('sync_conflict')
      .where({ id: locked.id })
      .update({
        status: 'resolved',
        resolution: input.resolution,
        resolved_by: input.resolverId,
        resolved_at: tx.fn.now(),
        resolution_modification_id: created?.id ?? null,
        updated_at: tx.fn.now(),
      });
    // Any other open conflict on the same modification is moot now.
    await tx('sync_conflict')
      .where({ modification_id: mod.id, status: 'open' })
      .whereNot({ id: locked.id })
      .update({ status: 'superseded', updated_at: tx.fn.now() });
    await appendAudit(tx, {
      organizationId: locked.organization_id,
      pfaId: locked.pfa_id,
      modificationId: created?.id ?? mod.id,
      actor: input.resolverId,
      eventType: 'conflict.resolved',
      details: {
        conflictId: locked.id,
        resolution: input.resolution,
        supersededModificationId: mod.id,
        newModificationId: created?.id ?? null,
        baseVersion,
        delta,
        ...(input.reason ? { reason: input.reason } : {}),
      },
    });
    const conflict = await getConflict(tx, [locked.organization_id], locked.id);
    return { conflict: conflict!, modification: created };
  });
}
