/**
 * What reconcile reads and what it reports: the three sides as plain values (PEMS's records,
 * the mirror and its history, the modifications with their outcomes, PEMS's write log), the
 * findings one by one and the summary. The decisions are in reconcile.ts.
 */
import type { EditableField, FieldValue, PfaRecord } from './pfa-record';

export interface MirrorInput {
  pfaId: string;
  version: number;
  data: Partial<PfaRecord>;
}

export interface HistoryInput {
  pfaId: string;
  version: number;
  data: Partial<PfaRecord>;
  changedBy: string | null;
  origin: string;
}

export interface ModificationInput {
  id: string;
  pfaId: string;
  userId: string;
  operation: 'update' | 'delete';
  delta: Record<string, unknown>;
  syncStatus: string;
  pemsVersionAfter: number | null;
  /** ISO-8601; null for drafts. */
  committedAt: string | null;
  createdAt: string;
}

/** One write PEMS applied (the simulator's log, connectors/pems-simulator/write-log.ts). */
export interface AppliedWriteInput {
  pfaId: string;
  /** The version the write produced. */
  version: number;
  idempotencyKey: string | null;
  operation: 'update' | 'delete';
  changes: Record<string, unknown>;
}

/** An idempotency key PEMS saw again and answered with its first outcome. */
export interface ReplayInput {
  pfaId: string;
  idempotencyKey: string;
  version: number;
}

export interface ReconcileInput {
  organization: string;
  pems: Iterable<PfaRecord>;
  mirror: Iterable<MirrorInput>;
  history: Iterable<HistoryInput>;
  modifications: Iterable<ModificationInput>;
  /** Vanguard user ids of the organization (PEMS's updatedBy for our writes). */
  vanguardUsers: Iterable<string>;
  /** ms since epoch. */
  now: number;
  /** A committed modification younger than this is still expected to be in flight, ms. */
  graceMs: number;
  /** Every write PEMS applied and every replay, when PEMS can tell (the simulator can). */
  writeLog?: { writes: Iterable<AppliedWriteInput>; replays: Iterable<ReplayInput> };
}

export type Finding =
  | { kind: 'missing_in_mirror'; pfaId: string; pemsVersion: number }
  | { kind: 'missing_in_pems'; pfaId: string; mirrorVersion: number }
  | {
      kind: 'mirror_stale';
      pfaId: string;
      pemsVersion: number;
      mirrorVersion: number;
      fields: Array<{ field: EditableField; pems: FieldValue; mirror: FieldValue }>;
    }
  | {
      kind: 'unfinished';
      pfaId: string;
      modificationId: string;
      status: string;
      committedAt: string | null;
      ageMs: number;
    }
  | {
      kind: 'outcome_mismatch';
      pfaId: string;
      modificationId: string;
      field: EditableField;
      expected: FieldValue;
      actual: FieldValue;
      at: 'pems' | 'history';
      version: number;
    }
  | { kind: 'orphan_write'; pfaId: string; version: number; updatedBy: string; seenIn: 'pems' | 'history' }
  | {
      kind: 'unrecorded_write';
      pfaId: string;
      version: number;
      idempotencyKey: string | null;
      replays: number;
      recordedVersions: number[];
    }
  | {
      kind: 'write_mismatch';
      pfaId: string;
      version: number;
      modificationId: string;
      field: EditableField;
      expected: FieldValue;
      written: FieldValue;
    };

export type FindingKind = Finding['kind'];

export interface ReconcileSummary {
  organization: string;
  pemsRecords: number;
  mirrorRecords: number;
  modifications: number;
  byStatus: Record<string, number>;
  /** Field checks of synced modifications made / skipped by rules 2 and 3. */
  outcomeChecks: { checked: number; overwrittenLater: number; unverifiable: number };
  findings: Record<FindingKind, number>;
  drift: boolean;
}

export interface ReconcileResult {
  summary: ReconcileSummary;
  findings: Finding[];
}
