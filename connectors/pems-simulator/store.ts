/**
 * The simulator's PEMS: records, their per-version history (for conflictingFields), the write
 * rules of the contract, and the idempotency memory. Plain in-memory data, no HTTP, so the
 * server stays a thin edge and the rules can be exercised directly.
 */
import { createHash } from 'node:crypto';
import type { PfaRecord } from '../../streams/pfa-record';
import { validateChangeShape, validateRecord, type FieldError } from '../../streams/validation';
import { canonicalJson } from '../../streams/canonical-json';
import { decodeCursor, encodeCursor, ListQueryError } from './cursor';
import { WriteLog } from './write-log';

export { ListQueryError };

/** A write the store refused or applied; the server renders it as HTTP, the batch as an item. */
export type WriteOutcome =
  | { kind: 'updated'; pfaId: string; newVersion: number; updatedAt: string }
  | { kind: 'not_found'; pfaId: string }
  | { kind: 'forbidden'; pfaId: string }
  | {
      kind: 'conflict';
      pfaId: string;
      currentVersion: number;
      expectedVersion: number;
      conflictingFields: string[];
    }
  | {
      kind: 'invalid';
      pfaId: string;
      error: 'VALIDATION_FAILED' | 'FIELD_NOT_EDITABLE' | 'IDEMPOTENCY_KEY_REUSED';
      message: string;
      fieldErrors: Array<{ field: string; message: string }>;
    };

export interface UpdateInput {
  pfaId: string;
  organization: string;
  changes: Record<string, unknown>;
  version: number;
  modifiedBy: string;
  changeReason?: string;
}

export interface DeleteInput {
  pfaId: string;
  organization: string;
  version: number;
  modifiedBy: string;
  reason?: string;
}

interface HistoryEntry {
  version: number;
  /** Fields this version changed; empty for child-record activity. */
  fields: string[];
}

interface StoredRecord {
  record: PfaRecord;
  /** Version the history starts after: for older expected versions the store cannot know. */
  historyBase: number;
  history: HistoryEntry[];
}

interface IdempotencyEntry {
  fingerprint: string;
  outcome: WriteOutcome;
  at: number;
}

/** Idempotency keys are remembered this long (contract: 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** History kept per record; older expected versions get the conservative answer. */
const MAX_HISTORY = 200;

export interface ListPage {
  records: PfaRecord[];
  nextCursor: string | null;
}

function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url');
}

export class PemsStore {
  private readonly records = new Map<string, StoredRecord>();
  private readonly idempotency = new Map<string, IdempotencyEntry>();
  private lastStamp = 0;
  /** Real writes applied through the API, per pfaId (control-surface edits are not counted). */
  readonly writesApplied = new Map<string, number>();
  idempotentReplays = 0;
  /** Test-only: every applied write and idempotent replay, per record (write-log.ts). */
  readonly log = new WriteLog();

  constructor(private readonly now: () => number = Date.now) {}

  /** Strictly increasing timestamps, so (updatedAt, pfaId) paging never skips a write. */
  stamp(): string {
    const t = Math.max(this.now(), this.lastStamp + 1);
    this.lastStamp = t;
    return new Date(t).toISOString();
  }

  get size(): number {
    return this.records.size;
  }

  put(record: PfaRecord): void {
    this.records.set(record.pfaId, { record: { ...record }, historyBase: record.version, history: [] });
  }

  get(pfaId: string): PfaRecord | undefined {
    const s = this.records.get(pfaId);
    return s ? { ...s.record } : undefined;
  }

  all(): PfaRecord[] {
    return [...this.records.values()].map((s) => ({ ...s.record }));
  }

  clear(): void {
    this.records.clear();
    this.idempotency.clear();
    this.writesApplied.clear();
    this.idempotentReplays = 0;
    this.log.clear();
  }

  /** Fields written that changed after `expectedVersion`, from the record's own history. */
  conflictingFields(s: StoredRecord, expectedVersion: number, written: string[]): string[] {
    if (expectedVersion < s.historyBase) {
      // History does not reach back that far: every written field may have moved.
      return [...written].sort();
    }
    const moved = new Set<string>();
    for (const h of s.history) if (h.version > expectedVersion) for (const f of h.fields) moved.add(f);
    return written.filter((f) => moved.has(f)).sort();
  }

  private bump(s: StoredRecord, fields: string[], by: string): void {
    s.record.version += 1;
    s.record.updatedAt = this.stamp();
    s.record.updatedBy = by;
    s.history.push({ version: s.record.version, fields });
    if (s.history.length > MAX_HISTORY) {
      const dropped = s.history.shift();
      if (dropped) s.historyBase = dropped.version;
    }
  }

  private countWrite(
    pfaId: string,
    w: {
      expectedVersion: number;
      version: number;
      operation: 'update' | 'delete';
      changes: Record<string, unknown>;
      modifiedBy: string;
      key?: string;
    },
  ): void {
    this.writesApplied.set(pfaId, (this.writesApplied.get(pfaId) ?? 0) + 1);
    const { key, ...rest } = w;
    this.log.applied({
      pfaId,
      idempotencyKey: key ?? null,
      ...rest,
      changes: { ...w.changes },
      at: new Date(this.now()).toISOString(),
    });
  }

  /**
   * Looks the key up: a replay returns the remembered outcome; a reuse with another body is
   * IDEMPOTENCY_KEY_REUSED; otherwise run() executes and, when it wrote, the outcome is kept.
   * Only applied writes are remembered: a refused write changed nothing, so running it again is
   * harmless, and it lets the sink retry a rebased change under the same key.
   */
  private withIdempotency(
    organization: string,
    key: string | undefined,
    fingerprintInput: unknown,
    pfaId: string,
    run: () => WriteOutcome,
  ): { outcome: WriteOutcome; replayed: boolean } {
    if (key === undefined) return { outcome: run(), replayed: false };
    const scoped = `${organization}\u0000${key}`;
    const fingerprint = fingerprintOf(fingerprintInput);
    const now = this.now();
    const seen = this.idempotency.get(scoped);
    if (seen && now - seen.at < IDEMPOTENCY_TTL_MS) {
      if (seen.fingerprint !== fingerprint) {
        return {
          outcome: {
            kind: 'invalid',
            pfaId,
            error: 'IDEMPOTENCY_KEY_REUSED',
            message: `Idempotency key was first used with a different request body`,
            fieldErrors: [],
          },
          replayed: false,
        };
      }
      this.idempotentReplays += 1;
      if (seen.outcome.kind === 'updated')
        this.log.replayed({
          pfaId,
          idempotencyKey: key,
          version: seen.outcome.newVersion,
          at: new Date(now).toISOString(),
        });
      return { outcome: seen.outcome, replayed: true };
    }
    const outcome = run();
    if (outcome.kind === 'updated') this.idempotency.set(scoped, { fingerprint, outcome, at: now });
    return { outcome, replayed: false };
  }

  update(input: UpdateInput, idempotencyKey?: string): { outcome: WriteOutcome; replayed: boolean } {
    const fp = {
      op: 'update',
      pfaId: input.pfaId,
      changes: input.changes,
      version: input.version,
      modifiedBy: input.modifiedBy,
      changeReason: input.changeReason,
    };
    return this.withIdempotency(input.organization, idempotencyKey, fp, input.pfaId, () =>
      this.applyUpdate(input, idempotencyKey),
    );
  }

  private applyUpdate(input: UpdateInput, key?: string): WriteOutcome {
    const { pfaId } = input;
    const shape = validateChangeShape(input.changes);
    if (shape.length > 0) return invalid(pfaId, shape);
    const written = Object.keys(input.changes);
    if (written.length === 0) {
      return invalid(pfaId, [
        { field: 'changes', code: 'VALIDATION_FAILED', message: 'changes must name at least one field' },
      ]);
    }
    const s = this.records.get(pfaId);
    // Another organization's record is answered like an unknown one: its existence is not disclosed.
    if (!s || s.record.organization !== input.organization) return { kind: 'not_found', pfaId };
    if (s.record.version !== input.version) {
      return {
        kind: 'conflict',
        pfaId,
        currentVersion: s.record.version,
        expectedVersion: input.version,
        conflictingFields: this.conflictingFields(s, input.version, written),
      };
    }
    const after = { ...s.record, ...input.changes } as PfaRecord;
    const rules = validateRecord(after);
    if (rules.length > 0) return invalid(pfaId, rules);
    // Only fields whose value really changed count as moved for later conflict checks.
    const moved = written.filter((f) => (s.record as unknown as Record<string, unknown>)[f] !== input.changes[f]);
    Object.assign(s.record, input.changes);
    this.bump(s, moved, input.modifiedBy);
    this.countWrite(pfaId, {
      expectedVersion: input.version,
      version: s.record.version,
      operation: 'update',
      changes: input.changes,
      modifiedBy: input.modifiedBy,
      key,
    });
    return { kind: 'updated', pfaId, newVersion: s.record.version, updatedAt: s.record.updatedAt };
  }

  softDelete(input: DeleteInput, idempotencyKey?: string): { outcome: WriteOutcome; replayed: boolean } {
    const fp = {
      op: 'delete',
      pfaId: input.pfaId,
      version: input.version,
      modifiedBy: input.modifiedBy,
      reason: input.reason,
    };
    return this.withIdempotency(input.organization, idempotencyKey, fp, input.pfaId, () => {
      const s = this.records.get(input.pfaId);
      if (!s || s.record.organization !== input.organization) return { kind: 'not_found', pfaId: input.pfaId };
      if (s.record.version !== input.version) {
        return {
          kind: 'conflict',
          pfaId: input.pfaId,
          currentVersion: s.record.version,
          expectedVersion: input.version,
          conflictingFields: this.conflictingFields(s, input.version, ['isDiscontinued']),
        };
      }
      const moved = s.record.isDiscontinued ? [] : ['isDiscontinued'];
      s.record.isDiscontinued = true;
      this.bump(s, moved, input.modifiedBy);
      this.countWrite(input.pfaId, {
        expectedVersion: input.version,
        version: s.record.version,
        operation: 'delete',
        changes: { isDiscontinued: true },
        modifiedBy: input.modifiedBy,
        key: idempotencyKey,
      });
      return { kind: 'updated', pfaId: input.pfaId, newVersion: s.record.version, updatedAt: s.record.updatedAt };
    });
  }

  /** A PEMS user edits the record in EAM: any non-system field, no business-rule check. */
  editAsPemsUser(pfaId: string, changes: Record<string, unknown>, user: string): PfaRecord {
    const s = this.records.get(pfaId);
    if (!s) throw new Error(`no record ${pfaId}`);
    const moved: string[] = [];
    for (const [f, v] of Object.entries(changes)) {
      if (f === 'pfaId' || f === 'organization' || f === 'version' || f === 'updatedAt' || f === 'updatedBy') continue;
      if ((s.record as unknown as Record<string, unknown>)[f] !== v) moved.push(f);
      (s.record as unknown as Record<string, unknown>)[f] = v;
    }
    this.bump(s, moved, user);
    return { ...s.record };
  }

  /** An actuals posting or labour booking: version moves, no field does (HxGN EAM updatecount). */
  childActivity(pfaId: string, count = 1, user = 'EAM-BATCH'): PfaRecord {
    const s = this.records.get(pfaId);
    if (!s) throw new Error(`no record ${pfaId}`);
    for (let i = 0; i < count; i++) this.bump(s, [], user);
    return { ...s.record };
  }

  /**
   * Records of an organization changed at or after `updatedSince`, ordered by (updatedAt, pfaId).
   * Inclusive on purpose: a poller that restarts from its last seen updatedAt sees that instant
   * again rather than missing a write stamped in the same millisecond.
   */
  list(organization: string, updatedSince: string | undefined, cursor: string | undefined, limit: number): ListPage {
    let after: { u: string; p: string } | undefined;
    if (cursor !== undefined) {
      after = decodeCursor(cursor, organization);
    }
    const since = updatedSince ?? '';
    const rows: PfaRecord[] = [];
    for (const s of this.records.values()) {
      const r = s.record;
      if (r.organization !== organization || r.updatedAt < since) continue;
      if (after && (r.updatedAt < after.u || (r.updatedAt === after.u && r.pfaId <= after.p))) continue;
      rows.push(r);
    }
    rows.sort((a, b) =>
      a.updatedAt < b.updatedAt
        ? -1
        : a.updatedAt > b.updatedAt
          ? 1
          : a.pfaId < b.pfaId
            ? -1
            : a.pfaId > b.pfaId
              ? 1
              : 0,
    );
    const page = rows.slice(0, limit).map((r) => ({ ...r }));
    const last = page[page.length - 1];
    const nextCursor = rows.length > limit && last ? encodeCursor(organization, last.updatedAt, last.pfaId) : null;
    return { records: page, nextCursor };
  }
}

function invalid(pfaId: string, errors: FieldError[]): WriteOutcome {
  const notEditable = errors.some((e) => e.code === 'FIELD_NOT_EDITABLE');
  const relevant = notEditable ? errors.filter((e) => e.code === 'FIELD_NOT_EDITABLE') : errors;
  return {
    kind: 'invalid',
    pfaId,
    error: notEditable ? 'FIELD_NOT_EDITABLE' : 'VALIDATION_FAILED',
    message: relevant.map((e) => e.message).join('; '),
    fieldErrors: relevant.map(({ field, message }) => ({ field, message })),
  };
}
