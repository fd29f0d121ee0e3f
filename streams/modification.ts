/**
 * The domain shape of one row of `pfa_modification` (schemas/migrations), as the sink sees it
 * after decoding a Debezium change event (streams/envelope.ts). Plain data: no methods, no I/O.
 */

/** What a modification asks PEMS to do. `delete` is PEMS's soft delete (DELETE /pfa/{id}). */
export type ModificationOperation = 'update' | 'delete';

export const MODIFICATION_OPERATIONS: readonly ModificationOperation[] = ['update', 'delete'];

/** The lifecycle of a modification row; only the transition INTO `committed` is work for the sink. */
export type SyncStatus =
  'draft' | 'committed' | 'queued' | 'syncing' | 'synced' | 'conflict' | 'failed' | 'rejected' | 'superseded';

export const SYNC_STATUSES: readonly SyncStatus[] = [
  'draft',
  'committed',
  'queued',
  'syncing',
  'synced',
  'conflict',
  'failed',
  'rejected',
  'superseded',
];

/**
 * Statuses a claim may start from (connectors/sink/claims.ts; another instance's live 'syncing'
 * claim excepted): committed and not yet written to PEMS with an outcome.
 */
export const CLAIMABLE_STATUSES = ['committed', 'queued', 'syncing'] as const satisfies readonly SyncStatus[];

/**
 * Statuses of an edit on its way to PEMS: committed, no outcome yet. The same set as the
 * claimable one (anything in flight may be claimed, or taken over once its holder is gone).
 */
export const IN_FLIGHT_STATUSES = CLAIMABLE_STATUSES;

/**
 * A delta as stored in `pfa_modification.delta` (jsonb): field name → new value. Not narrowed to
 * editable fields here: streams/validation.ts does that, and says which field is wrong.
 */
export type Delta = Record<string, unknown>;

export interface Modification {
  id: string;
  organizationId: string;
  pfaId: string;
  userId: string;
  operation: ModificationOperation;
  delta: Delta;
  /** The PEMS version the user's edit was based on (EAM recordid / updatecount). */
  baseVersion: number;
  changeReason: string | null;
  syncStatus: SyncStatus;
  /** jsonb, already parsed; null when the row carries no error. */
  syncError: unknown;
  pemsVersionAfter: number | null;
  attempts: number;
  /** ISO-8601 strings exactly as Debezium's ZonedTimestamp emits them (validated parseable). */
  committedAt: string | null;
  syncedAt: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  supersedesId: string | null;
}

/**
 * Where a change event sits in Kafka. `offset` stays a string as kafkajs gives it: Kafka offsets
 * are int64 and may exceed Number.MAX_SAFE_INTEGER; compare them with compareOffsets().
 */
export interface CdcPosition {
  topic: string;
  partition: number;
  offset: string;
}

/** Debezium `source` block details worth keeping for tracing (Postgres connector). */
export interface CdcSource {
  lsn: number | null;
  txId: number | null;
  tsMs: number | null;
}

/** Orders two Kafka offsets (decimal strings) numerically without losing int64 precision. */
export function compareOffsets(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Orders positions by (topic, partition, offset). */
export function comparePositions(a: CdcPosition, b: CdcPosition): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  return compareOffsets(a.offset, b.offset);
}
