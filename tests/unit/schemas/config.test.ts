import { ConfigError } from '../../../streams/errors';
import {
  configJsonSchema,
  loadConfig,
  redactConfig,
  SETTINGS,
  settingsMarkdown,
  type Config,
} from '../../../schemas/config';

/** The one required setting; everything else has a default. */
const DB = 'postgres://vanguard:db-secret-pw@db:5432/vanguard';
const BASE = { PEMS_SYNC_DATABASE_URL: DB };

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

describe('loadConfig defaults', () => {
  it('when only the database URL is set, then every other key takes its declared default', () => {
    const c = loadConfig(BASE);
    expect(c.database).toEqual({ url: DB, adminUrl: '', poolMax: 10 });
    expect(c.kafka).toEqual({
      brokers: ['127.0.0.1:9092'],
      clientId: 'pems-sync',
      groupId: 'pems-sync-sink',
      sessionTimeoutMs: 30000,
      ssl: false,
      saslMechanism: '',
      saslUsername: '',
      saslPassword: '',
    });
    expect(c.retry).toEqual({ delaysMs: [5000, 10000, 20000], jitter: 0.2, outageThreshold: 5, probeIntervalMs: 5000 });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(c.controlApi.webhookUrls).toEqual([]);
    expect(c.log.level).toBe('info');
    expect(c.otel).toEqual({ enabled: false, serviceName: 'pems-sync' });
  });

  it('when loaded, then every declared setting is present and nothing else', () => {
    const c = loadConfig(BASE) as unknown as Record<string, Record<string, unknown>>;
    const keys = Object.entries(c).flatMap(([section, v]) => Object.keys(v).map((leaf) => `${section}.${leaf}`));
    expect(keys.sort()).toEqual(Object.keys(SETTINGS).sort());
  });

  it('when a default is a list, then each load gets its own copy (mutating one config leaves the defaults intact)', () => {
    const a = loadConfig(BASE);
    a.retry.delaysMs.push(1);
    a.kafka.brokers.push('elsewhere:9092');
    const b = loadConfig(BASE);
    expect(b.retry.delaysMs).toEqual([5000, 10000, 20000]);
    expect(b.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(SETTINGS['retry.delaysMs'].default).toEqual([5000, 10000, 20000]);
  });
});

describe("the sink's tunables", () => {
  it('when nothing is set, then they keep the values the sink had hard-coded', () => {
    const { sink } = loadConfig(BASE);
    expect({
      maxInFlight: sink.maxInFlight,
      partitionsConsumedConcurrently: sink.partitionsConsumedConcurrently,
      maxRechecks: sink.maxRechecks,
      pemsRequestsInFlight: sink.pemsRequestsInFlight,
      batchLingerMs: sink.batchLingerMs,
      flushMaxEntries: sink.flushMaxEntries,
      flushLingerMs: sink.flushLingerMs,
    }).toEqual({
      maxInFlight: 2500,
      partitionsConsumedConcurrently: 6,
      maxRechecks: 5,
      pemsRequestsInFlight: 4,
      batchLingerMs: 2,
      flushMaxEntries: 2000,
      flushLingerMs: 20,
    });
  });

  it('when set, then they are read from their variables, and a value below the minimum is an error naming the key', () => {
    const c = loadConfig({
      ...BASE,
      PEMS_SYNC_SINK_MAX_RECHECKS: '0',
      PEMS_SYNC_SINK_MAX_IN_FLIGHT: '100',
      PEMS_SYNC_SINK_FLUSH_LINGER_MS: '5',
    });
    expect([c.sink.maxRechecks, c.sink.maxInFlight, c.sink.flushLingerMs]).toEqual([0, 100, 5]);
    expect(configError(() => loadConfig({ ...BASE, PEMS_SYNC_SINK_PEMS_REQUESTS_IN_FLIGHT: '0' })).message).toContain(
      'sink.pemsRequestsInFlight',
    );
  });
});

describe('loadConfig environment parsing', () => {
  it('when a string is set, then it is taken as is', () => {
    expect(loadConfig({ ...BASE, PEMS_SYNC_KAFKA_CLIENT_ID: 'sink-a' }).kafka.clientId).toBe('sink-a');
  });

  it.each([
    ['30000', 30000],
    [' 6000 ', 6000],
  ])('when an integer is %j, then it parses to %d', (raw, value) => {
    expect(loadConfig({ ...BASE, PEMS_SYNC_SESSION_TIMEOUT_MS: raw }).kafka.sessionTimeoutMs).toBe(value);
  });

  it.each(['12.5', 'abc', '', '1e4'])('when an integer is %j, then the error names the key and its variable', (raw) => {
    const e = configError(() => loadConfig({ ...BASE, PEMS_SYNC_SESSION_TIMEOUT_MS: raw }));
    expect(e.key).toBe('kafka.sessionTimeoutMs');
    expect(e.message).toContain('PEMS_SYNC_SESSION_TIMEOUT_MS');
    expect(e.message).toContain('not a whole number');
    expect(e.code).toBe('PEMS_SYNC_CONFIG_INVALID');
    expect(e.retriable).toBe(false);
  });

  it.each([
    ['0.5', 0.5],
    ['1', 1],
    ['0', 0],
  ])('when a number is %j, then it parses to %d', (raw, value) => {
    expect(loadConfig({ ...BASE, PEMS_SYNC_RETRY_JITTER: raw }).retry.jitter).toBe(value);
  });

  it.each(['', 'half', 'NaN', 'Infinity'])('when a number is %j, then the error names the key', (raw) => {
    const e = configError(() => loadConfig({ ...BASE, PEMS_SYNC_RETRY_JITTER: raw }));
    expect(e.key).toBe('retry.jitter');
    expect(e.message).toContain('PEMS_SYNC_RETRY_JITTER');
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['false', false],
    ['0', false],
    ['no', false],
    ['off', false],
    ['', false],
  ])('when a boolean is %j, then it parses to %s', (raw, value) => {
    expect(loadConfig({ ...BASE, PEMS_SYNC_KAFKA_SSL: raw }).kafka.ssl).toBe(value);
  });

  it('when a boolean is not one of the known spellings, then the error names the key and its variable', () => {
    const e = configError(() => loadConfig({ ...BASE, PEMS_SYNC_KAFKA_SSL: 'maybe' }));
    expect(e.key).toBe('kafka.ssl');
    expect(e.message).toMatch(/PEMS_SYNC_KAFKA_SSL="maybe" is not a boolean/);
  });

  it('when a string list is set, then it is split on commas, trimmed, and empty items dropped', () => {
    expect(loadConfig({ ...BASE, PEMS_SYNC_KAFKA_BROKERS: ' k1:9092, k2:9092,,k3:9092 ' }).kafka.brokers).toEqual([
      'k1:9092',
      'k2:9092',
      'k3:9092',
    ]);
  });

  it('when the broker list is empty, then the error names kafka.brokers (a consumer needs at least one)', () => {
    const e = configError(() => loadConfig({ ...BASE, PEMS_SYNC_KAFKA_BROKERS: ' , ' }));
    expect(e.key).toBe('kafka.brokers');
    expect(e.message).toContain('PEMS_SYNC_KAFKA_BROKERS');
  });

  it('when an integer list is set, then it parses each item', () => {
    expect(loadConfig({ ...BASE, PEMS_SYNC_RETRY_DELAYS_MS: '10, 20,40' }).retry.delaysMs).toEqual([10, 20, 40]);
    expect(loadConfig({ ...BASE, PEMS_SYNC_RETRY_DELAYS_MS: '' }).retry.delaysMs).toEqual([]);
  });

  it('when an integer list has a bad item, then the error names the key and the item', () => {
    const e = configError(() => loadConfig({ ...BASE, PEMS_SYNC_RETRY_DELAYS_MS: '10,-5' }));
    expect(e.key).toBe('retry.delaysMs');
    expect(e.message).toContain('"-5"');
  });

  it('when an enum value is allowed, then it is taken; when not, the error names the key and its variable', () => {
    expect(loadConfig({ ...BASE, PEMS_SYNC_LOG_LEVEL: 'debug' }).log.level).toBe('debug');
    const e = configError(() => loadConfig({ ...BASE, PEMS_SYNC_LOG_LEVEL: 'loud' }));
    expect(e.key).toBe('log.level');
    expect(e.message).toContain('PEMS_SYNC_LOG_LEVEL');
  });

  it('when a pattern does not match, then the error names the key', () => {
    const e = configError(() => loadConfig({ PEMS_SYNC_DATABASE_URL: 'mysql://u:p@h/db' }));
    expect(e.key).toBe('database.url');
    expect(e.message).toContain('PEMS_SYNC_DATABASE_URL');
  });
});

describe('loadConfig fallback variables', () => {
  it('when only KAFKA_BROKERS is set, then it is used for kafka.brokers', () => {
    expect(loadConfig({ ...BASE, KAFKA_BROKERS: 'kafka:29092' }).kafka.brokers).toEqual(['kafka:29092']);
  });

  it('when both PEMS_SYNC_KAFKA_BROKERS and KAFKA_BROKERS are set, then the specific one wins', () => {
    expect(
      loadConfig({ ...BASE, KAFKA_BROKERS: 'generic:9092', PEMS_SYNC_KAFKA_BROKERS: 'specific:9092' }).kafka.brokers,
    ).toEqual(['specific:9092']);
  });

  it('when only DATABASE_URL is set, then it satisfies the required database.url', () => {
    expect(loadConfig({ DATABASE_URL: DB }).database.url).toBe(DB);
  });

  it('when SCHEMA_REGISTRY_URL and REDIS_URL are set, then they are used', () => {
    const c = loadConfig({ ...BASE, SCHEMA_REGISTRY_URL: 'http://sr:8080', REDIS_URL: 'redis://r:6379' });
    expect(c.schemaRegistry.url).toBe('http://sr:8080');
    expect(c.redis.url).toBe('redis://r:6379');
  });
});

describe('loadConfig required, range and type errors', () => {
  it('when a required key is missing, then the error names the key and both variables', () => {
    const e = configError(() => loadConfig({}));
    expect(e.key).toBe('database.url');
    expect(e.message).toContain('database.url');
    expect(e.message).toContain('PEMS_SYNC_DATABASE_URL');
    expect(e.message).toContain('DATABASE_URL');
    expect(e.details).toEqual({ key: 'database.url' });
  });

  it('when a required key is given as an override, then the environment is not needed', () => {
    expect(loadConfig({}, { database: { url: DB } }).database.url).toBe(DB);
  });

  it.each([
    ['kafka.sessionTimeoutMs', { PEMS_SYNC_SESSION_TIMEOUT_MS: '5999' }, 'PEMS_SYNC_SESSION_TIMEOUT_MS'],
    ['pems.batchSize', { PEMS_SYNC_PEMS_BATCH_SIZE: '101' }, 'PEMS_SYNC_PEMS_BATCH_SIZE'],
    ['database.poolMax', { PEMS_SYNC_DB_POOL_MAX: '0' }, 'PEMS_SYNC_DB_POOL_MAX'],
    ['http.port', { PEMS_SYNC_HTTP_PORT: '65536' }, 'PEMS_SYNC_HTTP_PORT'],
    ['retry.jitter', { PEMS_SYNC_RETRY_JITTER: '1.5' }, 'PEMS_SYNC_RETRY_JITTER'],
    ['source.pageSize', { PEMS_SYNC_POLL_PAGE_SIZE: '501' }, 'PEMS_SYNC_POLL_PAGE_SIZE'],
  ])('when %s is out of range, then the error names it and its variable', (key, env, variable) => {
    const e = configError(() => loadConfig({ ...BASE, ...env }));
    expect(e.key).toBe(key);
    expect(e.message).toContain(key);
    expect(e.message).toContain(variable);
    expect(e.message).toMatch(/must be [<>]=/);
  });

  it.each([
    ['kafka.sessionTimeoutMs', { kafka: { sessionTimeoutMs: '30000' } }, /must be integer/],
    ['kafka.ssl', { kafka: { ssl: 'yes' } }, /must be boolean/],
    ['kafka.brokers', { kafka: { brokers: 'a:1,b:2' } }, /must be array/],
    ['retry.jitter', { retry: { jitter: '0.1' } }, /must be number/],
    ['pems.timeoutMs', { pems: { timeoutMs: 1.5 } }, /must be integer/],
  ])('when %s has the wrong type in an override, then the error names the key', (key, overrides, message) => {
    const e = configError(() => loadConfig(BASE, overrides as never));
    expect(e.key).toBe(key);
    expect(e.message).toMatch(message);
  });

  it('when an item of a list setting is out of range, then the error names the setting (not a JSON pointer) and its variable', () => {
    const e = configError(() => loadConfig(BASE, { retry: { delaysMs: [100, -1] } }));
    expect(e.key).toBe('retry.delaysMs');
    expect(e.message).toContain('item 1');
    expect(e.message).toContain('PEMS_SYNC_RETRY_DELAYS_MS');
  });
});

describe('loadConfig overrides', () => {
  it('when an override is given, then it wins over the environment', () => {
    expect(loadConfig({ ...BASE, PEMS_SYNC_PEMS_BATCH_SIZE: '50' }, { pems: { batchSize: 20 } }).pems.batchSize).toBe(
      20,
    );
  });

  it('when an override key is unknown, then it is refused by name', () => {
    const e = configError(() => loadConfig(BASE, { kafka: { brokerz: ['x:1'] } } as never));
    expect(e.key).toBe('kafka.brokerz');
    expect(e.message).toContain('not a known setting');
  });

  it('when an override section is unknown, then it is refused by name', () => {
    const e = configError(() => loadConfig(BASE, { kafak: { brokers: ['x:1'] } } as never));
    expect(e.key).toBe('kafak');
    expect(e.message).toContain('not a known config section');
  });

  it('when overrides are used, then the override object is not mutated', () => {
    const overrides = { pems: { batchSize: 20 } };
    loadConfig(BASE, overrides);
    expect(overrides).toEqual({ pems: { batchSize: 20 } });
  });
});

describe('loadConfig cross-field rules', () => {
  it('when a SASL mechanism is set without a password, then the error names kafka.saslPassword', () => {
    const e = configError(() =>
      loadConfig({ ...BASE, PEMS_SYNC_KAFKA_SASL_MECHANISM: 'scram-sha-512', PEMS_SYNC_KAFKA_SASL_USERNAME: 'svc' }),
    );
    expect(e.key).toBe('kafka.saslPassword');
    expect(e.message).toContain('kafka.saslMechanism');
  });

  it('when a SASL mechanism is set without a username, then the error names kafka.saslUsername', () => {
    const e = configError(() =>
      loadConfig({ ...BASE, PEMS_SYNC_KAFKA_SASL_MECHANISM: 'plain', PEMS_SYNC_KAFKA_SASL_PASSWORD: 'pw' }),
    );
    expect(e.key).toBe('kafka.saslUsername');
  });

  it('when a SASL mechanism has both username and password, then the config loads', () => {
    const c = loadConfig({
      ...BASE,
      PEMS_SYNC_KAFKA_SASL_MECHANISM: 'plain',
      PEMS_SYNC_KAFKA_SASL_USERNAME: 'svc',
      PEMS_SYNC_KAFKA_SASL_PASSWORD: 'pw',
    });
    expect(c.kafka).toMatchObject({ saslMechanism: 'plain', saslUsername: 'svc', saslPassword: 'pw' });
  });

  it('when the SASL mechanism is not one of the supported ones, then the error names it', () => {
    expect(configError(() => loadConfig({ ...BASE, PEMS_SYNC_KAFKA_SASL_MECHANISM: 'gssapi' })).key).toBe(
      'kafka.saslMechanism',
    );
  });

  it('when jwtSecret is shorter than 32 characters, then the error names it', () => {
    const e = configError(() => loadConfig({ ...BASE, PEMS_SYNC_JWT_SECRET: 'x'.repeat(31) }));
    expect(e.key).toBe('controlApi.jwtSecret');
    expect(e.message).toContain('32');
  });

  it('when jwtSecret is 32 characters or empty, then the config loads', () => {
    expect(loadConfig({ ...BASE, PEMS_SYNC_JWT_SECRET: 'x'.repeat(32) }).controlApi.jwtSecret).toHaveLength(32);
    expect(loadConfig(BASE).controlApi.jwtSecret).toBe('');
  });

  it('when a retry delay is over one hour, then the error names retry.delaysMs', () => {
    expect(configError(() => loadConfig({ ...BASE, PEMS_SYNC_RETRY_DELAYS_MS: '1000,3600001' })).key).toBe(
      'retry.delaysMs',
    );
    expect(loadConfig({ ...BASE, PEMS_SYNC_RETRY_DELAYS_MS: '3600000' }).retry.delaysMs).toEqual([3600000]);
  });
});

describe('redactConfig', () => {
  const secrets = {
    PEMS_SYNC_DATABASE_URL: DB,
    PEMS_SYNC_DATABASE_ADMIN_URL: 'postgres://owner:owner-secret-pw@db:5432/vanguard',
    PEMS_SYNC_REDIS_URL: 'redis://:redis-secret@redis:6379',
    PEMS_SYNC_CREDENTIAL_KEYS: 'k1:c2VjcmV0LWtleS1tYXRlcmlhbA==,k0:b2xkLWtleQ==',
    PEMS_SYNC_WEBHOOK_URLS:
      'https://hooks.slack.com/services/T0/B0/hook-secret-1,https://hooks.example.com/hook-secret-2',
    PEMS_SYNC_KAFKA_SASL_MECHANISM: 'plain',
    PEMS_SYNC_KAFKA_SASL_USERNAME: 'svc',
    PEMS_SYNC_KAFKA_SASL_PASSWORD: 'sasl-secret',
    PEMS_SYNC_SCHEMA_REGISTRY_PASSWORD: 'sr-secret',
    PEMS_SYNC_JWT_SECRET: 'jwt-secret-jwt-secret-jwt-secret-0123',
    PEMS_SYNC_AUDIT_KEYS: 'a1:YXVkaXQta2V5LWF1ZGl0LWtleS1hdWRpdC1rZXktMDE=',
  };

  it('when a config has secrets, then database.url, redis.url, credentialKeys, webhookUrls and the passwords are masked', () => {
    const r = redactConfig(loadConfig(secrets));
    expect(r.database.url).toBe('***');
    expect(r.redis.url).toBe('***');
    expect(r.pems.credentialKeys).toBe('***');
    expect(r.controlApi.webhookUrls).toEqual(['***', '***']);
    expect(r.kafka.saslPassword).toBe('***');
    expect(r.schemaRegistry.password).toBe('***');
    expect(r.controlApi.jwtSecret).toBe('***');
    const text = JSON.stringify(r);
    for (const needle of [
      'db-secret-pw',
      'redis-secret',
      'c2VjcmV0',
      'hook-secret',
      'sasl-secret',
      'sr-secret',
      'jwt-secret',
    ])
      expect(text).not.toContain(needle);
  });

  it('when redacting, then non-secrets are kept and empty secrets stay empty (so "unset" is still visible)', () => {
    const r = redactConfig(loadConfig(BASE));
    expect(r.kafka.saslUsername).toBe('');
    expect(r.kafka.saslPassword).toBe('');
    expect(r.redis.url).toBe('');
    expect(r.controlApi.webhookUrls).toEqual([]);
    expect(r.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(r.pems.batchSize).toBe(100);
  });

  it('when redacting, then the input config is not mutated', () => {
    const c = loadConfig(secrets);
    const before = JSON.parse(JSON.stringify(c)) as Config;
    const r = redactConfig(c);
    expect(c).toEqual(before);
    expect(r).not.toBe(c);
    expect(r.controlApi.webhookUrls).not.toBe(c.controlApi.webhookUrls);
  });

  it('when every secret setting is listed, then redactConfig masks each of them', () => {
    const secretKeys = Object.entries(SETTINGS)
      .filter(([, s]) => 'secret' in s && s.secret)
      .map(([k]) => k);
    expect(secretKeys.sort()).toEqual(
      [
        'audit.keys',
        'controlApi.jwtSecret',
        'controlApi.webhookUrls',
        'database.adminUrl',
        'database.url',
        'kafka.saslPassword',
        'pems.credentialKeys',
        'redis.url',
        'schemaRegistry.password',
      ].sort(),
    );
    const r = redactConfig(loadConfig(secrets)) as unknown as Record<string, Record<string, unknown>>;
    for (const key of secretKeys) {
      const [section, leaf] = key.split('.') as [string, string];
      const v = r[section]?.[leaf];
      expect(Array.isArray(v) ? v.every((x) => x === '***') : v === '***').toBe(true);
    }
  });
});

describe('error messages never echo secrets', () => {
  it('when a secret setting has the wrong type, then its value is not in the message', () => {
    const e = configError(() => loadConfig(BASE, { kafka: { saslPassword: 123456789 } } as never));
    expect(e.key).toBe('kafka.saslPassword');
    expect(e.message).not.toContain('123456789');
    expect(JSON.stringify(e)).not.toContain('123456789');
  });

  it('when a bad PEMS_SYNC_KAFKA_SASL_PASSWORD comes with a bad mechanism, then the password is not echoed', () => {
    const e = configError(() =>
      loadConfig({
        ...BASE,
        PEMS_SYNC_KAFKA_SASL_MECHANISM: 'plain',
        PEMS_SYNC_KAFKA_SASL_USERNAME: '',
        PEMS_SYNC_KAFKA_SASL_PASSWORD: 'sasl-leak-check',
      }),
    );
    expect(e.message).not.toContain('sasl-leak-check');
    expect(JSON.stringify(e)).not.toContain('sasl-leak-check');
  });

  it('when the database URL (a secret) fails its pattern, then the URL and its password are not echoed', () => {
    const e = configError(() => loadConfig({ PEMS_SYNC_DATABASE_URL: 'mysql://u:db-leak-check@h/db' }));
    expect(e.key).toBe('database.url');
    expect(e.message).not.toContain('db-leak-check');
    expect(JSON.stringify(e)).not.toContain('db-leak-check');
  });

  it('when a secret list has an empty item via override, then no other item is echoed', () => {
    const e = configError(() => loadConfig(BASE, { controlApi: { webhookUrls: ['https://hook/leak-check', ''] } }));
    expect(e.key).toBe('controlApi.webhookUrls');
    expect(e.message).not.toContain('leak-check');
  });

  it('when a jwtSecret is too short, then the short secret is not echoed', () => {
    const e = configError(() => loadConfig({ ...BASE, PEMS_SYNC_JWT_SECRET: 'short-leak' }));
    expect(e.message).not.toContain('short-leak');
  });

  it('when a non-secret is bad, then its value is shown (it helps the operator)', () => {
    expect(configError(() => loadConfig({ ...BASE, PEMS_SYNC_KAFKA_SSL: 'maybe' })).message).toContain('"maybe"');
  });
});

describe('configJsonSchema and settingsMarkdown', () => {
  it('when the schema is built, then every section forbids unknown keys and requires all of its own', () => {
    const schema = configJsonSchema() as {
      additionalProperties: boolean;
      properties: Record<string, { additionalProperties: boolean; required: string[]; properties: object }>;
    };
    expect(schema.additionalProperties).toBe(false);
    for (const section of Object.values(schema.properties)) {
      expect(section.additionalProperties).toBe(false);
      expect(section.required.sort()).toEqual(Object.keys(section.properties).sort());
    }
  });

  it('when the markdown table is built, then it has a row per setting, secrets shown as (secret) and never a default', () => {
    const md = settingsMarkdown();
    expect(md.split('\n')).toHaveLength(Object.keys(SETTINGS).length + 2);
    expect(md).toContain('| `database.url` | `PEMS_SYNC_DATABASE_URL` | string | (secret) |');
  });
});
