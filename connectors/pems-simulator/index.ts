export { startPemsSimulator, selfSignedCert, BASE_PATH } from './server';
export type {
  PemsSimulator,
  PemsSimulatorOptions,
  SimulatorControl,
  SimulatorCredential,
  SimulatorStats,
} from './server';
export type { FaultConfig, LatencyFault } from './faults';
export { PemsStore } from './store';
export type { AppliedWrite, ReplayedWrite, WriteLogSnapshot, HoldSpec } from './write-log';
