/**
 * The shapes of PEMS's API as the client speaks it: what a write sends, what it answers, a
 * batch item's result, a page of changed records (schemas/openapi/pems-api.json).
 */
import type { Changes, PfaRecord } from '../../streams/pfa-record';
import type { PemsFieldError } from './errors';

export interface UpdateRequest {
  changes: Changes;
  version: number;
  modifiedBy: string;
  changeReason?: string;
}

export interface UpdateResult {
  success: boolean;
  pfaId: string;
  newVersion: number;
  updatedAt: string;
  /** PEMS answered from its idempotency memory: the write had already happened. */
  replayed: boolean;
}

export interface BatchItem extends UpdateRequest {
  pfaId: string;
  idempotencyKey: string;
}

export type BatchItemStatus = 'updated' | 'conflict' | 'invalid' | 'not_found' | 'forbidden';

export interface PemsErrorBody {
  error: string;
  message?: string;
  fieldErrors?: PemsFieldError[];
  currentVersion?: number;
  expectedVersion?: number;
  conflictingFields?: string[];
}

export interface BatchItemResult {
  pfaId: string;
  status: BatchItemStatus;
  newVersion?: number;
  error?: PemsErrorBody;
}

export interface ListQuery {
  /** ISO-8601; records changed at or after it. */
  updatedSince?: string;
  cursor?: string;
  /** 1..500, default 500. */
  limit?: number;
}

export interface ListPage {
  records: PfaRecord[];
  nextCursor: string | null;
}

export interface SoftDeleteRequest {
  version: number;
  modifiedBy: string;
  reason: string;
}
