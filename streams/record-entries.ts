/**
 * What the record stage is handed (connectors/sink/record.ts): the outcome of one write with the
 * modifications it carried and every attempt it made, or an event that could not be decoded.
 * Plain data. Which rows each entry writes is streams/outcome-rows.ts.
 */
import type { CdcPosition, Modification } from './modification';
import type { KafkaHeaders, Outcome } from './outcomes';
import type { PfaRecord } from './pfa-record';

/** The Kafka record a modification came from, kept for its dead letter. */
export interface SourceRecord {
  position: CdcPosition;
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkaHeaders;
}

export interface AttemptLog {
  at: string;
  /** The version the write carried. */
  version: number;
  result: 'updated' | 'conflict' | 'rejected' | 'rate_limited' | 'transient' | 'error';
  pemsResponse: unknown;
}

export interface OutcomeEntry {
  kind: 'outcome';
  outcome: Outcome;
  modifications: Array<{ modification: Modification; source: SourceRecord }>;
  attempts: AttemptLog[];
  /** The record as PEMS now holds it, after a successful write. */
  mirrorRecord: PfaRecord | null;
  /** The thrown error behind a failed outcome (its class and stack go to the dead letter). */
  error?: unknown;
  traceId: string | null;
}

export interface PoisonEntry {
  kind: 'poison';
  reason: string;
  source: SourceRecord;
  /** The modification the event names, when it can be read (e.g. a delta over the size limit). */
  modificationId?: string | null;
}

export type RecordEntry = OutcomeEntry | PoisonEntry;

/** The organization named in a CDC key, when the key is readable JSON. */
export function organizationOf(key: Buffer | null): string | null {
  if (!key) return null;
  try {
    const k = JSON.parse(key.toString('utf8')) as { organization_id?: unknown };
    return typeof k.organization_id === 'string' ? k.organization_id : null;
  } catch {
    return null;
  }
}
