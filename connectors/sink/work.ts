/**
 * What travels between the sink's rooms: a claimed edit with the Kafka record it came from
 * (a LaneItem), and what the check stage loaded for it (its LaneContext).
 */
import type { WorkItem } from '../../streams/grouping';
import type { PfaRecord } from '../../streams/pfa-record';
import type { OwnWrite, WriteIntent } from '../postgres/sink-store';
import type { OrganizationContext } from './context';
import type { SourceRecord } from './record';

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
