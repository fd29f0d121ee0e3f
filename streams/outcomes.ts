/**
 * Outcome types of a sync, and the records the edge emits for them: the SyncResult Avro record
 * (schemas/avro/sync-result.avsc, result topic) and the headers of a dead-letter record. Pure.
 */
import { CdcPosition, Modification, SyncStatus } from './modification';
import { ConflictField } from './conflicts';
import { causeChain, PemsSyncError } from './errors';

import type { FieldError } from './field-error';

export type { FieldError } from './field-error';

export interface OutcomeError {
  code: string;
  message: string;
  fieldErrors?: FieldError[];
}

export type Outcome =
  | {
      kind: 'synced';
      /** True when PEMS had moved and the write went onto its current version. */
      rebased: boolean;
      pemsVersionBefore: number | null;
      /** Null only when the write was skipped because PEMS already held the values and no version is known. */
      pemsVersionAfter: number | null;
      fieldsWritten: string[];
      /** PEMS already held the values (conflicts.checkVersion → already_applied): nothing written. */
      alreadyApplied?: boolean;
    }
  | { kind: 'conflict'; pemsVersion: number | null; fields: ConflictField[] }
  | { kind: 'rejected'; error: OutcomeError; pemsVersion?: number | null }
  | { kind: 'failed'; error: OutcomeError; pemsVersion?: number | null }
  | { kind: 'superseded'; supersededBy: string | null }
  | { kind: 'skipped'; reason: string };

export type OutcomeKind = Outcome['kind'];

/** The pfa_modification.sync_status an outcome leaves behind; skipped leaves the row alone. */
export function syncStatusFor(outcome: Outcome): SyncStatus | null {
  return outcome.kind === 'skipped' ? null : outcome.kind;
}

/** A JSON-safe error for outcomes, result records and audit rows, from anything thrown. */
export function outcomeErrorFrom(err: unknown): OutcomeError {
  const code =
    typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
      ? (err as { code: string }).code
      : 'PEMS_SYNC_UNEXPECTED';
  const message = err instanceof Error ? err.message : typeof err === 'string' ? err : String(err);
  const out: OutcomeError = { code, message };
  // PEMS 400 VALIDATION_FAILED carries fieldErrors [{field, message}] (schemas/openapi/pems-api.json); the
  // client keeps them in details.fieldErrors.
  const fe = err instanceof PemsSyncError ? err.details.fieldErrors : undefined;
  if (Array.isArray(fe)) {
    const fieldErrors = fe.filter(
      (x): x is FieldError =>
        typeof x === 'object' &&
        x !== null &&
        typeof (x as FieldError).field === 'string' &&
        typeof (x as FieldError).message === 'string',
    );
    if (fieldErrors.length > 0) out.fieldErrors = fieldErrors.map(({ field, message: m }) => ({ field, message: m }));
  }
  return out;
}

/** The SyncResult Avro record, as a plain object avsc can encode. */
export interface SyncResultRecord {
  modificationId: string;
  organizationId: string;
  pfaId: string;
  userId: string;
  outcome: 'SYNCED' | 'CONFLICT' | 'REJECTED' | 'FAILED' | 'SUPERSEDED' | 'SKIPPED';
  baseVersion: number;
  pemsVersionBefore: number | null;
  pemsVersionAfter: number | null;
  fieldsWritten: string[];
  rebased: boolean;
  attempts: number;
  error: { code: string; message: string; fieldErrors: FieldError[] | null } | null;
  committedAt: number | null;
  syncedAt: number | null;
  latencyMs: number | null;
  detail: string | null;
  traceId: string | null;
  coalescedWith: string[];
}

export interface ResultTimings {
  /** PEMS write tries made for this modification (rate-limit pauses excluded). */
  attempts: number;
  /** When the outcome was decided, epoch ms (the edge's clock; this module never reads one). */
  syncedAtMs: number | null;
  /** Ids of all modifications of the same write; this modification's own id is left out. */
  coalescedWith?: readonly string[];
}

function toMs(iso: string | null): number | null {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

function show(v: unknown): string {
  return v === undefined ? 'unknown' : JSON.stringify(v);
}

function recordError(e: OutcomeError | null): SyncResultRecord['error'] {
  return e === null
    ? null
    : {
        code: e.code,
        message: e.message,
        fieldErrors: e.fieldErrors && e.fieldErrors.length > 0 ? e.fieldErrors : null,
      };
}

export function toResultRecord(
  outcome: Outcome,
  modification: Modification,
  timings: ResultTimings,
  traceId: string | null,
): SyncResultRecord {
  const committedAt = toMs(modification.committedAt);
  const syncedAt = timings.syncedAtMs;
  const base: SyncResultRecord = {
    modificationId: modification.id,
    organizationId: modification.organizationId,
    pfaId: modification.pfaId,
    userId: modification.userId,
    outcome: outcome.kind.toUpperCase() as SyncResultRecord['outcome'],
    baseVersion: modification.baseVersion,
    pemsVersionBefore: null,
    pemsVersionAfter: null,
    fieldsWritten: [],
    rebased: false,
    attempts: timings.attempts,
    error: null,
    committedAt,
    syncedAt,
    // Clamped at 0: the database and the sink clocks may disagree by a little.
    latencyMs: committedAt !== null && syncedAt !== null ? Math.max(0, Math.round(syncedAt - committedAt)) : null,
    detail: null,
    traceId,
    coalescedWith: (timings.coalescedWith ?? []).filter((id) => id !== modification.id),
  };
  switch (outcome.kind) {
    case 'synced':
      return {
        ...base,
        pemsVersionBefore: outcome.pemsVersionBefore,
        pemsVersionAfter: outcome.pemsVersionAfter,
        fieldsWritten: [...outcome.fieldsWritten],
        rebased: outcome.rebased,
        detail: outcome.alreadyApplied ? 'already_applied' : null,
      };
    case 'conflict':
      return {
        ...base,
        pemsVersionBefore: outcome.pemsVersion,
        error: recordError({
          code: 'PEMS_SYNC_VERSION_CONFLICT',
          message: `PEMS changed ${outcome.fields.map((f) => f.field).join(', ')} since version ${modification.baseVersion}`,
          fieldErrors: outcome.fields.map((f) => ({
            field: f.field,
            message: `base ${f.baseKnown ? show(f.base) : 'unknown'}, yours ${show(f.local)}, PEMS ${show(f.pems)}`,
          })),
        }),
      };
    case 'rejected':
    case 'failed':
      return { ...base, pemsVersionBefore: outcome.pemsVersion ?? null, error: recordError(outcome.error) };
    case 'superseded':
      return {
        ...base,
        detail: outcome.supersededBy === null ? 'superseded' : `superseded by ${outcome.supersededBy}`,
      };
    case 'skipped':
      return { ...base, detail: outcome.reason };
  }
}

// ---- dead letters -------------------------------------------------------------------------

/** kafkajs IHeaders. */
export type KafkaHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

/** Header names of Kafka Connect's DeadLetterQueueReporter (apache/kafka, connect/runtime). */
export const DLQ_HEADERS = {
  topic: '__connect.errors.topic',
  partition: '__connect.errors.partition',
  offset: '__connect.errors.offset',
  connectorName: '__connect.errors.connector.name',
  taskId: '__connect.errors.task.id',
  stage: '__connect.errors.stage',
  exceptionClass: '__connect.errors.exception.class.name',
  exceptionMessage: '__connect.errors.exception.message',
  exceptionStacktrace: '__connect.errors.exception.stacktrace',
  /** Ours, not Kafka's: the stable PEMS_SYNC_* code, for triage and replay tooling. */
  code: '__pems_sync.errors.code',
} as const;

/** Longest stack trace header kept, in characters; a deep cause chain should not bloat the record. */
export const MAX_STACKTRACE_CHARS = 32_768;

export interface DeadLetterContext {
  connectorName?: string;
  taskId?: string | number;
  /** Where it failed (Kafka's own stages are KEY_CONVERTER, TASK_PUT...). */
  stage?: DeadLetterStage;
}

/**
 * The stages a record can be dead-lettered at, as the __connect.errors.stage header says: the
 * sink's decode of a change event, its write to PEMS; the mirror's decode, validation and write.
 */
export const DEAD_LETTER_STAGES = ['DECODE', 'VALIDATE', 'PEMS_WRITE', 'MIRROR_WRITE'] as const;
export type DeadLetterStage = (typeof DEAD_LETTER_STAGES)[number];

/**
 * A recorded outcome's error as an error again, for the dead letter of a failed write whose
 * original error is gone (the recorder has only the outcome): its message and code, class name
 * 'Error' as before (instead of Object.assign(new Error(message), { code })).
 */
export class RecordedError extends Error {
  readonly code: string;
  constructor(error: Pick<OutcomeError, 'code' | 'message'>) {
    super(error.message);
    this.code = error.code;
  }
}

/** A malformed event as an error, so poison and failed writes dead-letter the same way. */
export class PoisonEventError extends PemsSyncError {
  constructor(reason: string) {
    super('PEMS_SYNC_POISON_EVENT', reason, { details: { reason } });
  }
}

/**
 * Like Java's ExceptionUtils.getStackTrace, which Kafka uses: the stack followed by each cause
 * as "Caused by: ...". JS stacks do not include causes, so they are appended here.
 */
export function stackTraceOf(err: unknown): string {
  const parts = causeChain(err).map((cur, i) => {
    const text = cur instanceof Error ? (cur.stack ?? `${cur.name}: ${cur.message}`) : String(cur);
    return i === 0 ? text : `Caused by: ${text}`;
  });
  const all = parts.join('\n');
  return all.length > MAX_STACKTRACE_CHARS ? `${all.slice(0, MAX_STACKTRACE_CHARS)}\n... truncated` : all;
}

function add(headers: KafkaHeaders, name: string, value: string): void {
  const v = Buffer.from(value, 'utf8');
  const existing = headers[name];
  // Kafka's Headers.add appends: a record dead-lettered twice carries both sets, oldest first
  // (consumers reading lastHeader() see the newest). kafkajs writes an array as repeated headers.
  if (existing === undefined) headers[name] = v;
  else headers[name] = [...(Array.isArray(existing) ? existing : [existing]), v];
}

/**
 * Headers for the dead-letter record: the original headers kept as they were, then Kafka
 * Connect's context headers (DeadLetterQueueReporter.populateContextHeaders), values as UTF-8
 * bytes. The edge produces the original key and value unchanged with these headers, before it
 * commits the offset.
 */
export function toDeadLetterHeaders(
  original: KafkaHeaders | undefined,
  position: CdcPosition,
  error: unknown,
  context: DeadLetterContext = {},
): KafkaHeaders {
  const headers: KafkaHeaders = {};
  for (const [k, v] of Object.entries(original ?? {})) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? [...v] : v;
  }
  add(headers, DLQ_HEADERS.topic, position.topic);
  add(headers, DLQ_HEADERS.partition, String(position.partition));
  add(headers, DLQ_HEADERS.offset, position.offset);
  if (context.connectorName !== undefined) add(headers, DLQ_HEADERS.connectorName, context.connectorName);
  if (context.taskId !== undefined) add(headers, DLQ_HEADERS.taskId, String(context.taskId));
  if (context.stage !== undefined) add(headers, DLQ_HEADERS.stage, context.stage);
  const className = error instanceof Error ? error.name || error.constructor.name : typeof error;
  add(headers, DLQ_HEADERS.exceptionClass, className);
  add(headers, DLQ_HEADERS.exceptionMessage, error instanceof Error ? error.message : String(error));
  add(headers, DLQ_HEADERS.exceptionStacktrace, stackTraceOf(error));
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code === 'string') add(headers, DLQ_HEADERS.code, code);
  return headers;
}
