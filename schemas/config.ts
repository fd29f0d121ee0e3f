/**
 * Every setting of every pems-sync process, declared once: type, default, unit, description,
 * whether it is a secret, and the environment variable it comes from. Validated at start
 * (ajv, additionalProperties: false, cross-field rules); a bad value fails fast with a
 * message naming the key and its variable. Secrets are masked by `redactConfig`.
 * Modelled on Debezium's JdbcSinkConnectorConfig and platformatic/kafka options.ts.
 */
import Ajv from 'ajv';
import { ConfigError } from '../streams/errors';

type SettingType = 'string' | 'integer' | 'number' | 'boolean' | 'string[]' | 'integer[]';

interface Setting {
  env: string;
  /** Read when `env` is unset (the local stack's generic names). */
  fallbackEnv?: string;
  type: SettingType;
  default?: unknown;
  description: string;
  secret?: boolean;
  minimum?: number;
  maximum?: number;
  /** Fewest items of a list setting. */
  minItems?: number;
  enum?: readonly string[];
  pattern?: string;
}

/** The declared settings: `section.key` → setting. */
export const SETTINGS = {
  'kafka.brokers': {
    env: 'PEMS_SYNC_KAFKA_BROKERS',
    fallbackEnv: 'KAFKA_BROKERS',
    type: 'string[]',
    default: ['127.0.0.1:9092'],
    minItems: 1,
    description: 'Kafka bootstrap servers, comma-separated host:port',
  },
  'kafka.clientId': {
    env: 'PEMS_SYNC_KAFKA_CLIENT_ID',
    type: 'string',
    default: 'pems-sync',
    description: 'Kafka client id (appears in broker logs and quotas)',
  },
  'kafka.groupId': {
    env: 'PEMS_SYNC_GROUP_ID',
    type: 'string',
    default: 'pems-sync-sink',
    description: 'consumer group of the sink; instances with the same id share the partitions',
  },
  'kafka.sessionTimeoutMs': {
    env: 'PEMS_SYNC_SESSION_TIMEOUT_MS',
    type: 'integer',
    default: 30000,
    minimum: 6000,
    description: 'consumer session timeout, ms',
  },
  'kafka.ssl': {
    env: 'PEMS_SYNC_KAFKA_SSL',
    type: 'boolean',
    default: false,
    description: 'connect to Kafka over TLS',
  },
  'kafka.saslMechanism': {
    env: 'PEMS_SYNC_KAFKA_SASL_MECHANISM',
    type: 'string',
    default: '',
    enum: ['', 'plain', 'scram-sha-256', 'scram-sha-512'],
    description: 'SASL mechanism; empty for none',
  },
  'kafka.saslUsername': {
    env: 'PEMS_SYNC_KAFKA_SASL_USERNAME',
    type: 'string',
    default: '',
    description: 'SASL user name',
  },
  'kafka.saslPassword': {
    env: 'PEMS_SYNC_KAFKA_SASL_PASSWORD',
    type: 'string',
    default: '',
    secret: true,
    description: 'SASL password',
  },

  'topics.cdc': {
    env: 'PEMS_SYNC_CDC_TOPIC',
    type: 'string',
    default: 'vanguard.public.pfa_modification',
    description: "Debezium's topic for pfa_modification (topic.prefix.schema.table)",
  },
  'topics.results': {
    env: 'PEMS_SYNC_RESULT_TOPIC',
    type: 'string',
    default: 'pems-sync.results',
    description: 'Avro SyncResult per modification outcome',
  },
  'topics.deadLetters': {
    env: 'PEMS_SYNC_DLQ_TOPIC',
    type: 'string',
    default: 'pems-sync.dead-letters',
    description: 'dead-letter topic of the sink',
  },
  'topics.pemsRaw': {
    env: 'PEMS_SYNC_RAW_TOPIC',
    type: 'string',
    default: 'pems.pfa.raw',
    description: 'PEMS records as polled (read side, bronze)',
  },
  'topics.mirrorDeadLetters': {
    env: 'PEMS_SYNC_MIRROR_DLQ_TOPIC',
    type: 'string',
    default: 'pems.pfa.raw.dead-letters',
    description: 'dead-letter topic of the mirror stream',
  },

  'debezium.connectUrl': {
    env: 'PEMS_SYNC_CONNECT_URL',
    fallbackEnv: 'KAFKA_CONNECT_URL',
    type: 'string',
    default: 'http://127.0.0.1:8083',
    description: 'Kafka Connect REST URL where the Debezium connector runs (pems-sync connector ...)',
  },

  'schemaRegistry.url': {
    env: 'PEMS_SYNC_SCHEMA_REGISTRY_URL',
    fallbackEnv: 'SCHEMA_REGISTRY_URL',
    type: 'string',
    default: 'http://127.0.0.1:8081/apis/ccompat/v7',
    description: 'Confluent-compatible schema registry base URL',
  },
  'schemaRegistry.username': {
    env: 'PEMS_SYNC_SCHEMA_REGISTRY_USERNAME',
    type: 'string',
    default: '',
    description: 'basic-auth user for the registry',
  },
  'schemaRegistry.password': {
    env: 'PEMS_SYNC_SCHEMA_REGISTRY_PASSWORD',
    type: 'string',
    default: '',
    secret: true,
    description: 'basic-auth password for the registry',
  },

  'database.url': {
    env: 'PEMS_SYNC_DATABASE_URL',
    fallbackEnv: 'DATABASE_URL',
    type: 'string',
    secret: true,
    pattern: '^postgres(ql)?://',
    description: 'PostgreSQL URL of the PFA Vanguard database',
  },
  'database.adminUrl': {
    env: 'PEMS_SYNC_DATABASE_ADMIN_URL',
    fallbackEnv: 'DATABASE_URL',
    type: 'string',
    default: '',
    secret: true,
    description:
      "PostgreSQL URL of the database's owner (who runs migrations), used only by `pems-sync connector restart --free-slot` to end the backend holding Debezium's replication slot, which the processes' least-privileged role may not; empty: database.url",
  },
  'database.poolMax': {
    env: 'PEMS_SYNC_DB_POOL_MAX',
    type: 'integer',
    default: 10,
    minimum: 1,
    maximum: 200,
    description: 'connections per process',
  },

  'redis.url': {
    env: 'PEMS_SYNC_REDIS_URL',
    fallbackEnv: 'REDIS_URL',
    type: 'string',
    default: '',
    secret: true,
    description: 'Redis URL for the shared PEMS rate limit; empty: an in-process limit (single instance only)',
  },

  'pems.timeoutMs': {
    env: 'PEMS_SYNC_PEMS_TIMEOUT_MS',
    type: 'integer',
    default: 30000,
    minimum: 100,
    description: 'timeout of one PEMS request, ms',
  },
  'pems.allowInsecureHttp': {
    env: 'PEMS_SYNC_PEMS_ALLOW_INSECURE_HTTP',
    type: 'boolean',
    default: false,
    description: 'allow http:// PEMS base URLs (the local simulator only; production is HTTPS)',
  },
  'pems.allowedHosts': {
    env: 'PEMS_SYNC_PEMS_ALLOWED_HOSTS',
    type: 'string[]',
    default: [],
    description:
      "hosts an organization's PEMS base URL may point at (credentials go nowhere else), comma-separated; '*.example.com' matches its subdomains; empty: any host",
  },
  'pems.caFile': {
    env: 'PEMS_SYNC_PEMS_CA_FILE',
    type: 'string',
    default: '',
    description: 'PEM file of an extra CA to trust for PEMS (e.g. the simulator certificate)',
  },
  'pems.rateLimitPerSecond': {
    env: 'PEMS_SYNC_PEMS_RATE_LIMIT',
    type: 'integer',
    default: 10,
    minimum: 0,
    description: 'PEMS requests per second per credential, shared by all instances; 0 disables (benchmarks only)',
  },
  'pems.rateLimitMarginMs': {
    env: 'PEMS_SYNC_PEMS_RATE_LIMIT_MARGIN_MS',
    type: 'integer',
    default: 10,
    minimum: 0,
    maximum: 1000,
    description:
      'added to each one-second window of the limiter, ms; a window restarts when PEMS answers, so only clock granularity needs covering',
  },
  'pems.pacing': {
    env: 'PEMS_SYNC_PEMS_PACING',
    type: 'string',
    enum: ['off', 'linear', 'quadratic'],
    default: 'linear',
    description:
      "how the sink's batch requests are spread over each credential's one-second window: the gap after the previous one grows with the tokens in use (linear, quadratic) up to an even spread; off: sent whenever a token is free (bursts, then waits)",
  },
  'pems.pacingHeadroom': {
    env: 'PEMS_SYNC_PEMS_PACING_HEADROOM',
    type: 'integer',
    default: 1,
    minimum: 0,
    maximum: 9,
    description:
      "tokens of each credential's window the sink's batch requests leave for rechecks (GET after a 409), retries and soft deletes",
  },
  'pems.batchSize': {
    env: 'PEMS_SYNC_PEMS_BATCH_SIZE',
    type: 'integer',
    default: 100,
    minimum: 1,
    maximum: 100,
    description: 'items per POST /pfa/batch (PEMS refuses more than 100)',
  },
  'pems.credentialKeys': {
    env: 'PEMS_SYNC_CREDENTIAL_KEYS',
    type: 'string',
    default: '',
    secret: true,
    description:
      'AES-256-GCM keys for organization credentials, "id:base64,id:base64"; the first encrypts, all decrypt',
  },

  'retry.delaysMs': {
    env: 'PEMS_SYNC_RETRY_DELAYS_MS',
    type: 'integer[]',
    default: [5000, 10000, 20000],
    description: 'backoff before each retry of a transient PEMS failure, ms; the count is the number of retries',
  },
  'retry.jitter': {
    env: 'PEMS_SYNC_RETRY_JITTER',
    type: 'number',
    default: 0.2,
    minimum: 0,
    maximum: 1,
    description: 'random spread of each delay, fraction of it',
  },
  'retry.outageThreshold': {
    env: 'PEMS_SYNC_OUTAGE_THRESHOLD',
    type: 'integer',
    default: 5,
    minimum: 1,
    description: 'consecutive transient failures that mean PEMS is unreachable: pause and probe health',
  },
  'retry.probeIntervalMs': {
    env: 'PEMS_SYNC_PROBE_INTERVAL_MS',
    type: 'integer',
    default: 5000,
    minimum: 10,
    description: 'health probe interval while PEMS is unreachable, ms',
  },

  'sink.maxDeltaBytes': {
    env: 'PEMS_SYNC_MAX_DELTA_BYTES',
    type: 'integer',
    default: 1048576,
    minimum: 1024,
    description: 'largest delta accepted; larger ones are dead letters',
  },
  'sink.shutdownTimeoutMs': {
    env: 'PEMS_SYNC_SHUTDOWN_TIMEOUT_MS',
    type: 'integer',
    default: 30000,
    minimum: 100,
    description: 'how long SIGTERM waits for in-flight work before abandoning it (uncommitted, so redelivered), ms',
  },
  'sink.organizations': {
    env: 'PEMS_SYNC_ORGANIZATIONS',
    type: 'string[]',
    default: [],
    description: "only these organizations' modifications are claimed (sharding, canaries, isolated tests); empty: all",
  },
  'sink.claimLeaseMs': {
    env: 'PEMS_SYNC_CLAIM_LEASE_MS',
    type: 'integer',
    default: 10000,
    minimum: 1000,
    description:
      "how long a silent instance's claims are respected before another instance takes its work over, ms (heartbeat every quarter of it)",
  },
  'sink.visibilityRetryMs': {
    env: 'PEMS_SYNC_SINK_VISIBILITY_RETRY_MS',
    type: 'integer',
    default: 10,
    minimum: 1,
    description:
      'first wait before a modification whose change event was read but whose row is not yet visible as committed is claimed again, ms (doubling)',
  },
  'sink.visibilityRetryMaxMs': {
    env: 'PEMS_SYNC_SINK_VISIBILITY_RETRY_MAX_MS',
    type: 'integer',
    default: 2000,
    minimum: 1,
    description: 'longest single wait between claims of a modification not yet visible, ms',
  },
  'sink.visibilityTimeoutMs': {
    env: 'PEMS_SYNC_SINK_VISIBILITY_TIMEOUT_MS',
    type: 'integer',
    default: 30000,
    minimum: 10,
    description:
      'how long a modification whose change event was read is looked for before it is dead-lettered as never visible, ms',
  },
  'sink.testEmitPauseFile': {
    env: 'PEMS_SYNC_TEST_EMIT_PAUSE_FILE',
    type: 'string',
    default: '',
    description:
      'tests only: after a drain of the outbox is committed to Kafka and before its rows are deleted, write this file and wait 5 s (a fault test kills the sink there); empty: off',
  },
  'sink.testStopHang': {
    env: 'PEMS_SYNC_TEST_STOP_HANG',
    type: 'boolean',
    default: false,
    description:
      'tests only: the graceful stop never finishes (as when Postgres or Kafka stops answering mid-stop), so a test sees the hard exit bound the process; false: off',
  },
  'sink.connectorName': {
    env: 'PEMS_SYNC_CONNECTOR_NAME',
    type: 'string',
    default: 'pems-sync-sink',
    description: 'name in dead-letter headers and audit actors',
  },
  'sink.maxInFlight': {
    env: 'PEMS_SYNC_SINK_MAX_IN_FLIGHT',
    type: 'integer',
    default: 2500,
    minimum: 1,
    description: 'work items claimed and not yet recorded before fetching from the CDC topic pauses (backpressure)',
  },
  'sink.partitionsConsumedConcurrently': {
    env: 'PEMS_SYNC_SINK_PARTITIONS_CONCURRENTLY',
    type: 'integer',
    default: 6,
    minimum: 1,
    description: 'CDC partitions whose fetched batches are handled at once (kafkajs partitionsConsumedConcurrently)',
  },
  'sink.maxRechecks': {
    env: 'PEMS_SYNC_SINK_MAX_RECHECKS',
    type: 'integer',
    default: 5,
    minimum: 0,
    description: 'times a write answered 409 goes back through the version check with a fresh GET before it fails',
  },
  'sink.pemsRequestsInFlight': {
    env: 'PEMS_SYNC_SINK_PEMS_REQUESTS_IN_FLIGHT',
    type: 'integer',
    default: 4,
    minimum: 1,
    description: 'POST /pfa/batch requests in flight per organization and sink instance',
  },
  'sink.batchLingerMs': {
    env: 'PEMS_SYNC_SINK_BATCH_LINGER_MS',
    type: 'integer',
    default: 2,
    minimum: 0,
    description: 'how long a lone write waits for company before its POST /pfa/batch is sent, ms',
  },
  'sink.flushMaxEntries': {
    env: 'PEMS_SYNC_SINK_FLUSH_MAX_ENTRIES',
    type: 'integer',
    default: 2000,
    minimum: 1,
    description: 'outcomes recorded in one Postgres transaction at most (a flush starts when this many wait)',
  },
  'sink.flushLingerMs': {
    env: 'PEMS_SYNC_SINK_FLUSH_LINGER_MS',
    type: 'integer',
    default: 20,
    minimum: 0,
    description: 'longest wait of an outcome for its flush, ms',
  },

  'source.pollIntervalMs': {
    env: 'PEMS_SYNC_POLL_INTERVAL_MS',
    type: 'integer',
    default: 60000,
    minimum: 100,
    description: 'how often the read side polls PEMS for changes, ms',
  },
  'source.pageSize': {
    env: 'PEMS_SYNC_POLL_PAGE_SIZE',
    type: 'integer',
    default: 500,
    minimum: 1,
    maximum: 500,
    description: 'records per PEMS page',
  },
  'source.groupId': {
    env: 'PEMS_SYNC_MIRROR_GROUP_ID',
    type: 'string',
    default: 'pems-sync-mirror',
    description: 'consumer group of the mirror stream',
  },

  'http.host': {
    env: 'PEMS_SYNC_HTTP_HOST',
    type: 'string',
    default: '127.0.0.1',
    description: 'bind address of /healthz, /readyz, /metrics',
  },
  'http.port': {
    env: 'PEMS_SYNC_HTTP_PORT',
    type: 'integer',
    default: 9464,
    minimum: 0,
    maximum: 65535,
    description: 'port of /healthz, /readyz, /metrics; 0 picks a free one',
  },

  'controlApi.host': {
    env: 'PEMS_SYNC_API_HOST',
    type: 'string',
    default: '127.0.0.1',
    description: 'bind address of the control API',
  },
  'controlApi.port': {
    env: 'PEMS_SYNC_API_PORT',
    type: 'integer',
    default: 8088,
    minimum: 0,
    maximum: 65535,
    description: 'port of the control API',
  },
  'controlApi.jwtSecret': {
    env: 'PEMS_SYNC_JWT_SECRET',
    type: 'string',
    default: '',
    secret: true,
    description: 'HS256 secret for bearer tokens (or set jwksUrl)',
  },
  'controlApi.jwksUrl': {
    env: 'PEMS_SYNC_JWKS_URL',
    type: 'string',
    default: '',
    description: 'JWKS URL for bearer tokens (or set jwtSecret); https (http only to a loopback host in development)',
  },
  'controlApi.jwtIssuer': {
    env: 'PEMS_SYNC_JWT_ISSUER',
    type: 'string',
    default: '',
    description: 'required `iss` of bearer tokens; required in production',
  },
  'controlApi.jwtAudience': {
    env: 'PEMS_SYNC_JWT_AUDIENCE',
    type: 'string',
    default: '',
    description: 'required `aud` of bearer tokens; required in production',
  },
  'controlApi.jwtMaxAgeSeconds': {
    env: 'PEMS_SYNC_JWT_MAX_AGE_SECONDS',
    type: 'integer',
    default: 3600,
    minimum: 60,
    maximum: 604800,
    description: 'oldest accepted bearer token by its `iat` (required), seconds',
  },
  'controlApi.deadLetterBodyMaxBytes': {
    env: 'PEMS_SYNC_DEAD_LETTER_BODY_MAX_BYTES',
    type: 'integer',
    default: 65536,
    minimum: 1024,
    maximum: 16777216,
    description:
      "most bytes of a dead letter's key and of its value GET /dead-letters/{id} returns (lists carry sizes only)",
  },
  'controlApi.exportMaxConcurrent': {
    env: 'PEMS_SYNC_EXPORT_MAX_CONCURRENT',
    type: 'integer',
    default: 3,
    minimum: 1,
    description: 'audit exports streaming at once (each holds a database connection); below database.poolMax',
  },
  'controlApi.exportMaxPerCaller': {
    env: 'PEMS_SYNC_EXPORT_MAX_PER_CALLER',
    type: 'integer',
    default: 1,
    minimum: 1,
    description: 'audit exports one user may stream at once',
  },
  'controlApi.exportIdleTimeoutMs': {
    env: 'PEMS_SYNC_EXPORT_IDLE_TIMEOUT_MS',
    type: 'integer',
    default: 30000,
    minimum: 100,
    description: 'an audit export whose reader takes nothing for this long is aborted and its connection returned, ms',
  },
  'controlApi.webhookUrls': {
    env: 'PEMS_SYNC_WEBHOOK_URLS',
    type: 'string[]',
    default: [],
    secret: true,
    description:
      'Slack-compatible webhooks (new dead letters, PEMS unreachable): https://… gets every organization, ORG=https://… only ORG',
  },

  'audit.keys': {
    env: 'PEMS_SYNC_AUDIT_KEYS',
    type: 'string',
    default: '',
    secret: true,
    description:
      'HMAC keys of the audit chain, "id:base64,id:base64" (32+ bytes each); the first signs, all verify; never stored in the database. Required in production',
  },

  'audit.checkpointTopic': {
    env: 'PEMS_SYNC_AUDIT_CHECKPOINT_TOPIC',
    type: 'string',
    default: 'pems-sync.audit-checkpoints',
    description:
      'compacted topic of signed audit chain head checkpoints (key: organization), the anchor /audit/verify compares against',
  },
  'audit.checkpointIntervalMs': {
    env: 'PEMS_SYNC_AUDIT_CHECKPOINT_INTERVAL_MS',
    type: 'integer',
    default: 60000,
    minimum: 1000,
    description: 'how often the control API publishes audit checkpoints, ms',
  },

  'deployment.environment': {
    env: 'PEMS_SYNC_ENVIRONMENT',
    type: 'string',
    default: 'production',
    enum: ['production', 'development'],
    description:
      'production requires the JWT issuer and audience; the local stack (deploy/local/env.sh) sets development',
  },

  'console.enabled': {
    env: 'PEMS_SYNC_CONSOLE_ENABLED',
    type: 'boolean',
    default: true,
    description: 'serve the console (server-rendered pages under /console) from the control API process',
  },
  'console.localSignInUsers': {
    env: 'PEMS_SYNC_CONSOLE_LOCAL_SIGN_IN_USERS',
    type: 'string[]',
    default: [],
    description:
      'demo only: app_user ids that may sign in to the console without a token; empty (the default) disables local sign-in',
  },
  'console.sessionTtlSeconds': {
    env: 'PEMS_SYNC_CONSOLE_SESSION_TTL_SECONDS',
    type: 'integer',
    default: 28800,
    minimum: 60,
    maximum: 604800,
    description: 'lifetime of a console session cookie, seconds',
  },
  'console.secureCookies': {
    env: 'PEMS_SYNC_CONSOLE_SECURE_COOKIES',
    type: 'boolean',
    default: true,
    description: 'mark console cookies Secure (browsers accept them on https and on localhost/127.0.0.1)',
  },
  'console.freshnessTargetSeconds': {
    env: 'PEMS_SYNC_CONSOLE_FRESHNESS_TARGET_SECONDS',
    type: 'integer',
    default: 60,
    minimum: 1,
    description: 'status is "on time" while the oldest unsynced edit is younger than this, seconds',
  },
  'console.stalledAfterSeconds': {
    env: 'PEMS_SYNC_CONSOLE_STALLED_AFTER_SECONDS',
    type: 'integer',
    default: 600,
    minimum: 1,
    description:
      'status is "stalled" once the oldest unsynced edit is older than this (between the two: "late"), seconds',
  },
  'console.liveIntervalMs': {
    env: 'PEMS_SYNC_CONSOLE_LIVE_INTERVAL_MS',
    type: 'integer',
    default: 3000,
    minimum: 250,
    description: 'how often the live status stream sends an update, ms',
  },
  'console.sinkMetricsUrls': {
    env: 'PEMS_SYNC_CONSOLE_SINK_METRICS_URLS',
    type: 'string[]',
    default: [],
    description:
      "the sink instances' /metrics URLs, for rate-limit waits and PEMS requests/s on the status screen; empty: shown as unknown",
  },

  'log.level': {
    env: 'PEMS_SYNC_LOG_LEVEL',
    type: 'string',
    default: 'info',
    enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    description: 'log level (JSON logs on stdout)',
  },
  'otel.enabled': {
    env: 'PEMS_SYNC_OTEL_ENABLED',
    type: 'boolean',
    default: false,
    description: 'start the OpenTelemetry SDK (exporters from the standard OTEL_* variables)',
  },
  'otel.serviceName': {
    env: 'OTEL_SERVICE_NAME',
    type: 'string',
    default: 'pems-sync',
    description: 'service.name of spans',
  },
} as const satisfies Record<string, Setting>;

type SettingKey = keyof typeof SETTINGS;
type ValueOf<T extends SettingType> = T extends 'string'
  ? string
  : T extends 'integer' | 'number'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'string[]'
        ? string[]
        : number[];

type Section<K extends string> = K extends `${infer S}.${string}` ? S : never;
type KeysOf<S extends string> = Extract<SettingKey, `${S}.${string}`>;
type Leaf<K extends string, S extends string> = K extends `${S}.${infer L}` ? L : never;

/** The validated configuration, nested by section. */
export type Config = {
  [S in Section<SettingKey>]: {
    [K in KeysOf<S> as Leaf<K, S>]: ValueOf<(typeof SETTINGS)[K]['type']>;
  };
};

function jsonSchemaFor(s: Setting): Record<string, unknown> {
  const base: Record<string, unknown> = { description: s.description };
  switch (s.type) {
    case 'string':
      Object.assign(base, { type: 'string' }, s.enum ? { enum: s.enum } : {}, s.pattern ? { pattern: s.pattern } : {});
      break;
    case 'integer':
    case 'number':
      Object.assign(
        base,
        { type: s.type },
        s.minimum !== undefined ? { minimum: s.minimum } : {},
        s.maximum !== undefined ? { maximum: s.maximum } : {},
      );
      break;
    case 'boolean':
      base.type = 'boolean';
      break;
    case 'string[]':
      Object.assign(
        base,
        { type: 'array', items: { type: 'string', minLength: 1 } },
        s.minItems !== undefined ? { minItems: s.minItems } : {},
      );
      break;
    case 'integer[]':
      Object.assign(
        base,
        { type: 'array', items: { type: 'integer', minimum: 0 } },
        s.minItems !== undefined ? { minItems: s.minItems } : {},
      );
      break;
  }
  return base;
}

/** The JSON schema of Config (for docs and validation). */
export function configJsonSchema(): Record<string, unknown> {
  const sections: Record<
    string,
    { type: 'object'; properties: Record<string, unknown>; required: string[]; additionalProperties: false }
  > = {};
  for (const [key, s] of Object.entries(SETTINGS) as Array<[string, Setting]>) {
    const [section, leaf] = key.split('.') as [string, string];
    sections[section] ??= { type: 'object', properties: {}, required: [], additionalProperties: false };
    sections[section].properties[leaf] = jsonSchemaFor(s);
    sections[section].required.push(leaf);
  }
  return { type: 'object', properties: sections, required: Object.keys(sections), additionalProperties: false };
}

function parseEnv(key: string, s: Setting, raw: string): unknown {
  const fail = (why: string): never => {
    throw new ConfigError(key, `${s.env}=${s.secret ? '***' : JSON.stringify(raw)} ${why}`);
  };
  switch (s.type) {
    case 'string':
      return raw;
    case 'integer': {
      if (!/^-?\d+$/.test(raw.trim())) fail('is not a whole number');
      return Number(raw);
    }
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) fail('is not a number');
      return n;
    }
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
      return fail('is not a boolean (true/false)');
    }
    case 'string[]':
      return raw
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
    case 'integer[]':
      return raw
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '')
        .map((x) => {
          if (!/^\d+$/.test(x)) fail(`has ${JSON.stringify(x)}, not a whole number`);
          return Number(x);
        });
  }
}

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(configJsonSchema());

/**
 * Builds the configuration from the environment (and overrides, used by tests and embedding),
 * validates it, and throws a ConfigError naming the first bad key.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: DeepPartial<Config> = {}): Config {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [key, s] of Object.entries(SETTINGS) as Array<[string, Setting]>) {
    const [section, leaf] = key.split('.') as [string, string];
    out[section] ??= {};
    const raw = env[s.env] ?? (s.fallbackEnv ? env[s.fallbackEnv] : undefined);
    const override = (overrides as Record<string, Record<string, unknown> | undefined>)[section]?.[leaf];
    let value: unknown;
    if (override !== undefined) value = override;
    else if (raw !== undefined) value = parseEnv(key, s, raw);
    // Copy list defaults: handing out the declared array would let one caller's push() change the
    // default for every later load.
    else if (s.default !== undefined) value = Array.isArray(s.default) ? [...(s.default as unknown[])] : s.default;
    else throw new ConfigError(key, `is required: set ${s.env}${s.fallbackEnv ? ` (or ${s.fallbackEnv})` : ''}`);
    out[section][leaf] = value;
  }
  for (const section of Object.keys(overrides)) {
    if (!(section in out)) throw new ConfigError(section, 'is not a known config section');
    for (const leaf of Object.keys((overrides as Record<string, object>)[section] ?? {})) {
      if (!(`${section}.${leaf}` in SETTINGS)) throw new ConfigError(`${section}.${leaf}`, 'is not a known setting');
    }
  }
  if (!validate(out)) {
    const e = validate.errors?.[0];
    // An item of a list setting has the path section/leaf/index: name the setting, then the item.
    const [section, leaf, ...item] = (e?.instancePath ?? '').replace(/^\//, '').split('/');
    const path = [section, leaf].filter((x) => x !== undefined && x !== '').join('.');
    const setting = (SETTINGS as Record<string, Setting>)[path];
    const where = item.length > 0 ? `item ${item.join('.')} ` : '';
    throw new ConfigError(
      path || 'config',
      `${where}${e?.message ?? 'is invalid'}${setting ? ` (from ${setting.env})` : ''}`,
    );
  }
  const config = out as unknown as Config;
  crossCheck(config);
  return config;
}

/** Rules that span several keys. */
function crossCheck(c: Config): void {
  if (c.kafka.saslMechanism !== '' && (c.kafka.saslUsername === '' || c.kafka.saslPassword === '')) {
    // `key` names the setting that is actually missing (the username when both are).
    const missing = c.kafka.saslUsername === '' ? 'kafka.saslUsername' : 'kafka.saslPassword';
    throw new ConfigError(
      missing,
      'is required (kafka.saslUsername and kafka.saslPassword) when kafka.saslMechanism is set',
    );
  }
  if (c.retry.delaysMs.some((d) => d > 3_600_000)) {
    throw new ConfigError(
      'retry.delaysMs',
      'has a delay over one hour; the retry window would outlive consumer sessions',
    );
  }
  if (c.controlApi.exportMaxConcurrent >= c.database.poolMax) {
    throw new ConfigError(
      'controlApi.exportMaxConcurrent',
      `must be below database.poolMax (${c.database.poolMax}): the rest of the API needs a connection while exports stream`,
    );
  }
  if (c.console.stalledAfterSeconds <= c.console.freshnessTargetSeconds) {
    throw new ConfigError('console.stalledAfterSeconds', 'must be greater than console.freshnessTargetSeconds');
  }
  if (c.controlApi.jwtSecret !== '' && c.controlApi.jwtSecret.length < 32) {
    throw new ConfigError('controlApi.jwtSecret', 'must be at least 32 characters (HS256)');
  }
}

/**
 * What a process that writes or verifies the audit trail needs in production (called by the
 * control API, the sink and the read side at start; not by loadConfig, so tools and tests that
 * load a partial config keep working): the audit chain's key.
 */
export function checkProductionSecrets(c: Config): void {
  if (c.deployment.environment === 'production' && c.audit.keys === '') {
    throw new ConfigError(
      'audit.keys',
      'is required in production (PEMS_SYNC_AUDIT_KEYS): without it the audit chain proves nothing against someone who can write the database',
    );
  }
}

/** The config with every secret replaced by '***' (and empty ones left empty), for logs. */
export function redactConfig(c: Config): Config {
  const copy = JSON.parse(JSON.stringify(c)) as Record<string, Record<string, unknown>>;
  for (const [key, s] of Object.entries(SETTINGS) as Array<[string, Setting]>) {
    if (!s.secret) continue;
    const [section, leaf] = key.split('.') as [string, string];
    const v = copy[section]?.[leaf];
    if (Array.isArray(v)) copy[section]![leaf] = v.map(() => '***');
    else if (typeof v === 'string' && v !== '') copy[section]![leaf] = '***';
  }
  return copy as unknown as Config;
}

/** Markdown table of every setting, for the README (`tsx schemas/config.ts --markdown`). */
export function settingsMarkdown(): string {
  const rows = (Object.entries(SETTINGS) as Array<[string, Setting]>).map(
    ([k, s]) =>
      `| \`${k}\` | \`${s.env}\` | ${s.type} | ${s.secret ? '(secret)' : s.default === undefined ? '(required)' : `\`${JSON.stringify(s.default)}\``} | ${s.description} |`,
  );
  return ['| key | environment | type | default | description |', '|---|---|---|---|---|', ...rows].join('\n');
}

export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};

if (require.main === module && process.argv.includes('--markdown')) {
  console.log(settingsMarkdown());
}
