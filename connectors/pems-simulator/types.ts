/** The simulator's options, its control surface and what startPemsSimulator returns. */
import type { PfaRecord } from '../../streams/pfa-record';
import type { FaultConfig } from './faults';
import type { PemsStore } from './store';
import type { AppliedWrite, HoldSpec, WriteLogSnapshot } from './write-log';

export interface SimulatorCredential {
  apiKey: string;
  tenant: string;
  organization: string;
}

export interface PemsSimulatorOptions {
  /** One credential per organization. */
  credentials: SimulatorCredential[];
  /** TCP port; 0 picks a free one. Default 8443. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Serve plain http instead of https (local demos only). Default false. */
  http?: boolean;
  /** Enable the /__control surface. Default false. */
  testMode?: boolean;
  /** Requests per second per credential; 0 disables the limit. Default 10 (the contract). */
  rateLimitPerSecond?: number;
  /** Bucket size; default equals rateLimitPerSecond (contract: burst 10). */
  rateLimitBurst?: number;
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Records seeded per organization at start. Default 0. */
  seedPerOrganization?: number;
  /** Use this key and certificate instead of generating a self-signed pair. */
  tls?: { key: string; cert: string };
}

export interface SimulatorStats {
  /** endpoint ('PUT /pfa/{id}') -> status ('200', '429', 'reset', 'hung') -> count */
  requests: Record<string, Record<string, number>>;
  /** organization of the credential -> most requests seen in any one-second window */
  maxRequestsPerSecond: Record<string, number>;
  /** pfaId -> writes really applied through the API */
  writesApplied: Record<string, number>;
  idempotentReplays: number;
  rateLimited: number;
}

export interface SimulatorControl {
  seed(opts: { organization?: string; count: number; seed?: number }): string[];
  getRecord(pfaId: string): PfaRecord | undefined;
  /** Put a record exactly as given (tests that need precise values). */
  putRecord(record: PfaRecord): void;
  editAsPemsUser(pfaId: string, changes: Record<string, unknown>, user?: string): PfaRecord;
  childActivity(pfaId: string, count?: number): PfaRecord;
  setFaults(faults: FaultConfig): void;
  clearFaults(): void;
  stats(): SimulatorStats;
  /** Forget records, statistics, faults, idempotency keys and rate-limit buckets. */
  reset(): void;
  /** Every write applied through the API and every idempotent replay, per record (write-log.ts). */
  writeLog(): WriteLogSnapshot;
  /** Resolves with the next write applied to one of these records (any when absent). */
  nextWrite(pfaIds?: readonly string[]): Promise<AppliedWrite>;
  /** Delay the answer to a request that applied a write to these records (null: off). */
  holdAfterApply(spec: HoldSpec | null): void;
}

export interface PemsSimulator {
  /** Base URL of the API, e.g. https://127.0.0.1:8443/api/pems */
  url: string;
  port: number;
  /** PEM of the self-signed certificate (undefined over http): give it to the client as `ca`. */
  cert?: string;
  control: SimulatorControl;
  store: PemsStore;
  close(): Promise<void>;
}
