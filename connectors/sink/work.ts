/**
 * What travels between the sink's rooms: a claimed edit with the Kafka record it came from
 * (a LaneItem), and what the check stage loaded for it (its LaneContext).
 */
import type { WorkItem } from '../../streams/grouping';
import type { PfaRecord } from '../../streams/pfa-record';
import type { OwnWrite, WriteIntent } from '../postgres/sink-store';
import type { OrganizationContext } from './context';
import type { OutcomeEntry, SourceRecord } from './record';

export type { OwnWrite, WriteIntent };

export interface LaneItem extends WorkItem {
  source: SourceRecord;
}

/** What the check stage loaded for a PFA when its items were claimed. */
export interface LaneContext {
  org: OrganizationContext;
  /** The mirror's record (PEMS as last seen), or null. */
  mirror: PfaRecord | null;
  /** Mirror history by version, for the base values of each modification. */
  history: Map<number, PfaRecord>;
  /** Deltas this sink already wrote to the PFA, with the PEMS version each produced. */
  ownWrites: OwnWrite[];
  /** Items a stopped instance sent (or was about to send) for these modifications, oldest first. */
  intents: WriteIntent[];
}

/** What a PFA's lane knows between its writes (lanes.ts keeps one per PFA). */
export interface LaneState {
  /** The freshest PEMS record known: this lane's last write or GET, else the mirror's. */
  known: PfaRecord | null;
  /**
   * What this sink itself wrote to the PFA, and the version that produced. A later edit based
   * on an older version built on these values (Vanguard shows pending edits merged), so our
   * own writes are not "PEMS moved the field" for it.
   */
  own: { version: number; changes: Record<string, unknown> } | null;
}

export type WriteResult =
  /**
   * `entries` to record, in order; `next`: edits of this write that go on as a write of their own,
   * ahead of the lane's other writes (empty: none).
   */
  | { kind: 'done'; entries: OutcomeEntry[]; next: LaneItem[] }
  /** The sink is stopping: nothing is recorded, Kafka redelivers (idempotency keys finish the job). */
  | { kind: 'abandoned' };
