/** Logs, metrics, traces and the operations HTTP endpoints of every pems-sync process. */
export { createLogger, redactPaths, CENSOR, type Logger, type DestinationStream } from './logger';
export {
  createSinkMetrics,
  COMMIT_TO_PEMS_BUCKETS,
  BATCH_SIZE_BUCKETS,
  PEMS_REQUEST_BUCKETS,
  RATE_LIMITER_WAIT_BUCKETS,
  registerReadinessGauge,
  type SinkMetrics,
} from './metrics';
export { createSyncHealthMetrics, type SyncHealthMetrics, type SyncHealthOptions } from './sync-health-metrics';
export {
  startTracing,
  tracesExporterConfigured,
  tracer,
  injectContext,
  extractContext,
  withSpan,
  type TracingOptions,
  type KafkaHeaders,
} from './tracing';
export { startOpsServer, type OpsServer, type OpsServerOptions, type Readiness } from './http';
