/**
 * Static checks of the deployment files against the code they deploy: docker-compose.yml, the
 * compose copy of the Debezium connector config, the Helm values, the Prometheus config and the
 * Grafana dashboard. No Docker, Helm or network: the files are parsed and compared with
 * schemas/config.ts (SETTINGS), connectors/debezium/pfa-modification.json and the metric names
 * the code registers.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parse } from 'yaml';
import { parseCredentialKeys } from '../../../connectors/pems/credentials';
import { loadConfig, SETTINGS } from '../../../schemas/config';
import { parseAuditKeys } from '../../../streams/audit-mac';

const repo = join(__dirname, '..', '..', '..');
const read = (path: string): string => readFileSync(join(repo, path), 'utf8');
// Compose files use YAML merge keys (<<: *anchor), as docker compose does.
const parseYaml = (text: string): unknown => parse(text, { merge: true });

type Dict = Record<string, unknown>;

interface ComposeService {
  image?: string;
  build?: string | Dict;
  command?: string | string[];
  environment?: Dict | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
  ports?: unknown[];
  volumes?: unknown[];
  profiles?: string[];
}

const composeText = read('docker-compose.yml');
const compose = parseYaml(composeText) as { services: Record<string, ComposeService>; volumes?: Dict; configs?: Dict };
const services = Object.entries(compose.services);

const settings = Object.values(SETTINGS) as Array<{
  env: string;
  fallbackEnv?: string;
  secret?: boolean;
  default?: unknown;
}>;
const knownEnv = new Set(settings.flatMap((s) => [s.env, ...(s.fallbackEnv ? [s.fallbackEnv] : [])]));
const secretEnv = new Set(settings.filter((s) => s.secret).map((s) => s.env));
const httpPortDefault = String((SETTINGS['http.port'] as { default: number }).default);

const canonical = JSON.parse(read('connectors/debezium/pfa-modification.json')) as {
  name: string;
  config: Record<string, string>;
};
/** Debezium's tuning settings: declared in deploy/local/env.sh with the defaults the benchmark chose. */
const DEBEZIUM_TUNING = {
  'poll.interval.ms': 'DEBEZIUM_POLL_INTERVAL_MS',
  'max.batch.size': 'DEBEZIUM_MAX_BATCH_SIZE',
  'max.queue.size': 'DEBEZIUM_MAX_QUEUE_SIZE',
} as const;
const envShDefault = (name: string): string => {
  const m = read('deploy/local/env.sh').match(new RegExp(`export ${name}="\\$\\{${name}:-([^}]*)\\}"`));
  if (!m) throw new Error(`deploy/local/env.sh declares no default for ${name}`);
  return m[1]!;
};
const debeziumTuningEnv = Object.fromEntries(Object.values(DEBEZIUM_TUNING).map((name) => [name, envShDefault(name)]));
/** `${env:NAME}` references in the connector config: resolved by the Kafka Connect worker, not by pems-sync. */
const connectWorkerEnv = new Set(
  [...JSON.stringify(canonical.config).matchAll(/\$\{env:([A-Z0-9_]+)\}/g)].map((m) => m[1]!),
);

function envOf(service: ComposeService): Record<string, string> {
  const env = service.environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((e) => {
        const i = e.indexOf('=');
        return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function dependsOn(service: ComposeService): Array<[string, string]> {
  const d = service.depends_on;
  if (d === undefined) return [];
  if (Array.isArray(d)) return d.map((name) => [name, 'service_started']);
  return Object.entries(d).map(([name, v]) => [name, v?.condition ?? 'service_started']);
}

const commandText = (s: ComposeService): string => (Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? ''));

/** Names of the variables a compose value interpolates: ${NAME}, ${NAME:-default}, ${NAME-default}, ... */
const interpolated = (value: string): string[] =>
  [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);

/**
 * Replaces `${NAME:-default}` with its default, as compose would with NAME unset; a required
 * `${NAME:?message}` has none ('').
 */
const withDefaults = (value: string): string =>
  value.replace(
    /\$\{[A-Za-z_][A-Za-z0-9_]*(?::?([-?])([^}]*))?\}/g,
    (_m, op: string | undefined, d: string | undefined) => (op === '-' ? (d ?? '') : ''),
  );

/** `${NAME:?message}` / `${NAME?message}`: compose refuses to start without NAME. */
const required = (value: string): string[] =>
  [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):?\?[^}]*\}/g)].map((m) => m[1]!);

/** The connector config of connectors/debezium/pfa-modification.json with `${NAME}` taken from `env`. */
function renderCanonical(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(canonical.config).map(([k, v]) => [
      k,
      v.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_m, name: string) => {
        if (env[name] === undefined) throw new Error(`no value for \${${name}} (connector key ${k})`);
        return env[name]!;
      }),
    ]),
  );
}

/** Looks like a secret in plain text rather than an obvious local/dev default or a placeholder. */
const looksLocal = (value: string): boolean =>
  value === '' || /local|dev|example|changeme|not-for-production/i.test(value);

describe('docker-compose.yml', () => {
  it('is YAML without tabs, with services', () => {
    expect(composeText).not.toMatch(/\t/);
    expect(services.length).toBeGreaterThan(5);
  });

  it('gives every service an image or a build', () => {
    for (const [name, s] of services) {
      expect({ name, ok: typeof s.image === 'string' || s.build !== undefined }).toEqual({ name, ok: true });
    }
  });

  it('names pinned images, matching the versions of the local stack (deploy/local/env.sh)', () => {
    const envSh = read('deploy/local/env.sh');
    const version = (name: string): string => envSh.match(new RegExp(`${name}:-([0-9A-Za-z.]+)\\}`))![1]!;
    const images = services.map(([, s]) => s.image).filter((i): i is string => typeof i === 'string');
    for (const image of images) expect(image).not.toMatch(/:latest$|^[^:]+$/);
    expect(images).toContain(`apache/kafka:${version('KAFKA_VERSION')}`);
    expect(images).toContain(`apicurio/apicurio-registry:${version('APICURIO_VERSION')}`);
    expect(images).toContain(`quay.io/debezium/connect:${version('DEBEZIUM_VERSION')}`);
    expect(images.some((i) => /^postgres:\d+/.test(i))).toBe(true);
    expect(images.some((i) => /^redis:7/.test(i))).toBe(true);
  });

  it('points depends_on at existing services with valid conditions', () => {
    const names = new Set(Object.keys(compose.services));
    for (const [name, s] of services) {
      for (const [target, condition] of dependsOn(s)) {
        expect({ name, target, exists: names.has(target) }).toEqual({ name, target, exists: true });
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') {
          expect({ name, target, healthcheck: compose.services[target]!.healthcheck !== undefined }).toEqual({
            name,
            target,
            healthcheck: true,
          });
        }
        // A profile-only service cannot be a dependency of one that starts by default.
        if (!s.profiles)
          expect({ name, target, profiles: compose.services[target]!.profiles }).toEqual({
            name,
            target,
            profiles: undefined,
          });
      }
    }
  });

  it('writes ports as strings and healthchecks in a form compose accepts', () => {
    for (const [name, s] of services) {
      for (const p of s.ports ?? []) expect({ name, type: typeof p }).toEqual({ name, type: 'string' });
      const test = s.healthcheck?.test;
      if (Array.isArray(test)) expect(['CMD', 'CMD-SHELL', 'NONE']).toContain(test[0]);
      else if (test !== undefined) expect(typeof test).toBe('string');
    }
  });

  it('declares the named volumes and configs it uses', () => {
    for (const [name, s] of services) {
      for (const v of s.volumes ?? []) {
        const source = String(v).split(':')[0]!;
        if (source.startsWith('.') || source.startsWith('/')) {
          expect({ name, source, exists: existsSync(join(repo, source)) }).toEqual({ name, source, exists: true });
        } else {
          expect(Object.keys(compose.volumes ?? {})).toContain(source);
        }
      }
    }
  });

  it('runs Postgres with wal_level=logical', () => {
    const postgres = services.filter(([, s]) => s.image?.startsWith('postgres:'));
    expect(postgres).toHaveLength(1);
    expect(commandText(postgres[0]![1])).toMatch(/(^|\s)-c\s+wal_level=logical(\s|$)/);
  });

  describe('Debezium registration', () => {
    const entry = services.find(([, s]) => /\/connectors\/[^/\s]+\/config/.test(commandText(s)));
    const [regName, reg] = entry ?? ['', {} as ComposeService];
    const body = 'deploy/docker/pfa-modification.compose.json';
    const config = JSON.parse(read(body)) as Record<string, string>;

    it('is a one-shot PUT of the compose connector config, after Connect is healthy and the schema is migrated', () => {
      expect(entry).toBeDefined();
      const cmd = commandText(reg);
      expect(cmd).toMatch(/-X PUT/);
      expect(cmd).toContain(`/connectors/${'pems-sync-pfa-modification'}/config`);
      expect((reg.volumes ?? []).map(String).some((v) => v.startsWith(`./${body}:`))).toBe(true);
      const deps = Object.fromEntries(dependsOn(reg));
      const connect = services.find(([, s]) => s.image?.includes('debezium/connect'))![0];
      expect(deps[connect]).toBe('service_healthy');
      expect(Object.values(deps)).toContain('service_completed_successfully');
      expect(regName).not.toBe('');
    });

    it('keys CDC records by organization and PFA', () => {
      expect(config['message.key.columns']).toBe('public.pfa_modification:organization_id,pfa_id');
      expect(config['table.include.list']).toBe('public.pfa_modification');
    });

    it('is connectors/debezium/pfa-modification.json with the compose service names', () => {
      const postgres = services.find(([, s]) => s.image?.startsWith('postgres:'))!;
      const pgEnv = envOf(postgres[1]);
      const rendered = renderCanonical({
        PGHOST: postgres[0],
        PGPORT: '5432',
        PGUSER: pgEnv.POSTGRES_USER!,
        PGDATABASE: pgEnv.POSTGRES_DB!,
        CDC_TOPIC_PREFIX: 'vanguard',
        KAFKA_PARTITIONS: envOf(services.find(([, s]) => s.image?.startsWith('apache/kafka'))![1])
          .KAFKA_NUM_PARTITIONS!,
        ...debeziumTuningEnv,
      });
      expect(config).toEqual(rendered);
      expect(`${config['topic.prefix']}.public.pfa_modification`).toBe(
        envOf(compose.services.sink!).PEMS_SYNC_CDC_TOPIC ?? (SETTINGS['topics.cdc'] as { default: string }).default,
      );
    });

    it('gives the Connect worker the password the config references', () => {
      const connect = services.find(([, s]) => s.image?.includes('debezium/connect'))![1];
      const env = envOf(connect);
      for (const name of connectWorkerEnv) expect(Object.keys(env)).toContain(name);
      expect(env.CONNECT_CONFIG_PROVIDERS).toBe('env');
      expect(env.CONNECT_CONFIG_PROVIDERS_ENV_CLASS).toBe(
        'org.apache.kafka.common.config.provider.EnvVarConfigProvider',
      );
    });
  });

  it('uses only PEMS_SYNC_* variables declared in schemas/config.ts', () => {
    for (const [name, s] of services) {
      const connectWorker = s.image?.includes('debezium/connect') === true;
      const env = envOf(s);
      const used = [...Object.keys(env), ...Object.values(env).flatMap(interpolated)].filter((k) =>
        k.startsWith('PEMS_SYNC_'),
      );
      for (const key of used) {
        const known = knownEnv.has(key) || (connectWorker && connectWorkerEnv.has(key));
        expect({ service: name, key, known }).toEqual({ service: name, key, known: true });
      }
    }
  });

  it('runs the pems-sync processes from the one image built by deploy/docker/Dockerfile', () => {
    const app = services.filter(([, s]) => s.build !== undefined);
    expect(app.map(([n]) => n).sort()).toEqual(
      expect.arrayContaining(['control-api', 'migrate', 'pems-simulator', 'sink', 'source']),
    );
    const build = read('tsconfig.build.json');
    for (const [name, s] of app) {
      expect({ name, dockerfile: (s.build as Dict).dockerfile, image: s.image }).toEqual({
        name,
        dockerfile: 'deploy/docker/Dockerfile',
        image: 'pems-sync:local',
      });
      // Node's own flags (the sink's heap bound) come first; the script is the first other word.
      const script = (Array.isArray(s.command) ? s.command.find((w) => !w.startsWith('--')) : undefined) ?? '';
      expect(script).toMatch(/^dist\/(connectors|schemas)\/[a-z/-]+\.js$/);
      // Compiled by `npm run build` (tsconfig.build.json includes its top-level directory).
      expect(build).toContain(`"${script.split('/')[1]}"`);
    }
    expect(existsSync(join(repo, 'deploy/docker/Dockerfile'))).toBe(true);
    const dockerfile = read('deploy/docker/Dockerfile');
    expect(dockerfile).toMatch(/CMD \["dist\/connectors\/sink\/main\.js"\]/);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/^USER (?!root|0\b)/m);
    expect(commandText(compose.services['pems-simulator']!)).toContain('dist/connectors/pems-simulator/main.js');
    expect(envOf(compose.services['pems-simulator']!).PEMS_SIM_TEST_MODE).toBe('1');
  });

  it('listens beyond loopback on the ops port and checks /healthz there', () => {
    for (const name of ['sink', 'control-api', 'source']) {
      const s = compose.services[name]!;
      const env = envOf(s);
      expect(env.PEMS_SYNC_HTTP_HOST).toBe('0.0.0.0');
      const port = env.PEMS_SYNC_HTTP_PORT ?? httpPortDefault;
      expect(JSON.stringify(s.healthcheck?.test)).toContain(`:${port}/healthz`);
    }
    expect(envOf(compose.services['control-api']!).PEMS_SYNC_API_HOST).toBe('0.0.0.0');
  });

  it('holds no plaintext secrets beyond obvious local defaults', () => {
    const secretName = /PASSWORD|SECRET|TOKEN|CREDENTIAL|(^|_)KEYS?$/;
    for (const [name, s] of services) {
      for (const [key, value] of Object.entries(envOf(s))) {
        const literal = withDefaults(value);
        const url = /^[a-z]+:\/\//.test(literal);
        // A URL is judged by the password it carries (below), not as a whole.
        if ((secretEnv.has(key) || secretName.test(key)) && !url) {
          expect({ service: name, key, local: looksLocal(literal) }).toEqual({ service: name, key, local: true });
          // Overridable from the shell or an .env file.
          if (literal !== '')
            expect({ service: name, key, interpolated: interpolated(value).length > 0 }).toEqual({
              service: name,
              key,
              interpolated: true,
            });
        }
        // Passwords inside URLs (postgres://user:password@host).
        const userinfo = literal.match(/^[a-z]+:\/\/[^:/@]+:([^@]+)@/);
        if (userinfo)
          expect({ service: name, key, local: looksLocal(userinfo[1]!) }).toEqual({ service: name, key, local: true });
      }
    }
    expect(composeText).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY|AKIA[0-9A-Z]{16}|xox[abp]-/);
  });

  // Issue 13, item 11: a public default secret is a working secret for everyone who reads the file.
  it('gives no secret a working default: each is required (${NAME:?…}) or empty, passwords in URLs too', () => {
    const secretName = /PASSWORD|SECRET|TOKEN|CREDENTIAL|(^|_)KEYS?$/;
    const seen: string[] = [];
    for (const [name, s] of services) {
      for (const [key, value] of Object.entries(envOf(s))) {
        const userinfo = value.match(/^[a-z]+:\/\/[^:/@]+:([^@]+)@/);
        const secretPart = userinfo
          ? userinfo[1]!
          : (secretEnv.has(key) || secretName.test(key)) && !/^[a-z]+:\/\//.test(value)
            ? value
            : undefined;
        if (secretPart === undefined || secretPart === '') continue;
        seen.push(`${name}.${key}`);
        expect({
          service: name,
          key,
          default: withDefaults(secretPart),
          required: required(secretPart).length > 0,
        }).toEqual({ service: name, key, default: '', required: true });
      }
    }
    expect(seen).toEqual(
      expect.arrayContaining([
        'postgres.POSTGRES_PASSWORD',
        'control-api.PEMS_SYNC_JWT_SECRET',
        'sink.PEMS_SYNC_CREDENTIAL_KEYS',
        'sink.PEMS_SYNC_DATABASE_URL',
        'connect.PEMS_SYNC_PG_PASSWORD',
      ]),
    );
    expect(composeText).not.toMatch(/pems_sync_local|not-for-production|bG9jYWwtZGV2/);
  });

  it('publishes every port on loopback unless PUBLISH_ADDRESS asks otherwise', () => {
    const ports = services.flatMap(([name, s]) => (s.ports ?? []).map((p) => [name, String(p)] as const));
    expect(ports.length).toBeGreaterThan(10);
    for (const [name, p] of ports)
      expect({ name, p, loopback: /^\$\{PUBLISH_ADDRESS:-127\.0\.0\.1\}:\d+:\d+$/.test(p) }).toEqual({
        name,
        p,
        loopback: true,
      });
  });

  it('has deploy/docker/init-env.sh generate every required secret into .env once, random and valid, and .env is git-ignored', () => {
    const requiredNames = new Set(services.flatMap(([, s]) => Object.values(envOf(s)).flatMap(required)));
    expect([...requiredNames].sort()).toEqual([
      'PEMS_SYNC_AUDIT_KEYS',
      'PEMS_SYNC_CREDENTIAL_KEYS',
      'PEMS_SYNC_JWT_SECRET',
      'PGPASSWORD',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'compose-env-'));
    const run = (file: string): Record<string, string> => {
      execFileSync('bash', [join(repo, 'deploy/docker/init-env.sh'), file], { stdio: 'pipe' });
      return Object.fromEntries(
        readFileSync(file, 'utf8')
          .trim()
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
    };
    const a = run(join(dir, 'a.env'));
    const b = run(join(dir, 'b.env'));
    expect(Object.keys(a).sort()).toEqual([...requiredNames].sort());
    for (const k of Object.keys(a)) expect({ k, differs: a[k] !== b[k] }).toEqual({ k, differs: true });
    expect(a.PGPASSWORD).toMatch(/^[0-9a-f]{48}$/);
    expect(a.PEMS_SYNC_JWT_SECRET!.length).toBeGreaterThanOrEqual(32);
    expect(
      parseCredentialKeys(a.PEMS_SYNC_CREDENTIAL_KEYS).keys.get(
        parseCredentialKeys(a.PEMS_SYNC_CREDENTIAL_KEYS).primary,
      )?.length,
    ).toBe(32);
    expect(
      parseAuditKeys(a.PEMS_SYNC_AUDIT_KEYS!)!.keys.get(parseAuditKeys(a.PEMS_SYNC_AUDIT_KEYS!)!.primary)?.length,
    ).toBe(32);
    expect(
      loadConfig({
        PEMS_SYNC_DATABASE_URL: `postgres://u:${a.PGPASSWORD}@h/db`,
        PEMS_SYNC_JWT_SECRET: a.PEMS_SYNC_JWT_SECRET,
        PEMS_SYNC_CREDENTIAL_KEYS: a.PEMS_SYNC_CREDENTIAL_KEYS,
      }).controlApi.jwtSecret,
    ).toBe(a.PEMS_SYNC_JWT_SECRET);
    // Run again: the existing values are kept.
    expect(run(join(dir, 'a.env'))).toEqual(a);
    expect((statSync(join(dir, 'a.env')).mode & 0o777).toString(8)).toBe('600');
    expect(read('.gitignore').split('\n')).toContain('.env');
  });
});

describe('deploy/helm/pems-sync/values.yaml', () => {
  const chart = 'deploy/helm/pems-sync';
  const values = parseYaml(read(`${chart}/values.yaml`)) as {
    config: Record<string, unknown>;
    ports: { ops: number; api: number };
    secret: { existingSecret: string; values: Record<string, string> };
    sink: { replicaCount: number; args: string[]; podDisruptionBudget: { enabled: boolean } };
    controlApi: { args: string[] };
    source: { args: string[] };
    probes: { liveness: { path: string }; readiness: { path: string } };
    podSecurityContext: Dict;
    securityContext: Dict;
    debezium: { register: boolean; connectorName: string; config: Record<string, unknown> };
  };

  it('maps every config key to a non-secret PEMS_SYNC_* variable of schemas/config.ts', () => {
    for (const [key, value] of Object.entries(values.config)) {
      expect({ key, known: knownEnv.has(key), secret: secretEnv.has(key) }).toEqual({
        key,
        known: true,
        secret: false,
      });
      expect({ key, type: typeof value }).toEqual({ key, type: 'string' });
    }
    // The ports come from `ports`, so probes, Services and the processes agree.
    expect(values.config).not.toHaveProperty('PEMS_SYNC_HTTP_PORT');
    expect(values.config).not.toHaveProperty('PEMS_SYNC_API_PORT');
    expect(String(values.ports.ops)).toBe(httpPortDefault);
    expect(String(values.ports.api)).toBe(String((SETTINGS['controlApi.port'] as { default: number }).default));
  });

  it('keeps every secret setting, and only those, in the Secret, without values', () => {
    expect(Object.keys(values.secret.values).sort()).toEqual([...secretEnv].sort());
    for (const v of Object.values(values.secret.values)) expect(v).toBe('');
    expect(values.secret.existingSecret).toBe('');
  });

  it('runs two sink replicas in one consumer group, probed on the ops port', () => {
    expect(values.sink.replicaCount).toBe(2);
    expect(values.sink.podDisruptionBudget.enabled).toBe(true);
    expect(values.config.PEMS_SYNC_GROUP_ID ?? (SETTINGS['kafka.groupId'] as { default: string }).default).toBe(
      'pems-sync-sink',
    );
    // The sink's heap bound comes before the script (the image's entrypoint is node).
    expect(values.sink.args).toEqual(['--max-old-space-size=160', 'dist/connectors/sink/main.js']);
    expect(commandText(compose.services.sink!)).toBe('--max-old-space-size=160 dist/connectors/sink/main.js');
    expect(values.controlApi.args).toEqual(['dist/connectors/control-api/main.js']);
    expect(values.source.args).toEqual(['dist/connectors/source/main.js']);
    expect(values.probes.liveness.path).toBe('/healthz');
    expect(values.probes.readiness.path).toBe('/readyz');
    expect(values.config.PEMS_SYNC_HTTP_HOST).toBe('0.0.0.0');
  });

  it('runs non-root with a read-only root filesystem', () => {
    expect(values.podSecurityContext.runAsNonRoot).toBe(true);
    expect(values.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(values.securityContext.allowPrivilegeEscalation).toBe(false);
  });

  it('registers connectors/debezium/pfa-modification.json (same keys and fixed values)', () => {
    const config = values.debezium.config;
    expect(values.debezium.register).toBe(true);
    expect(values.debezium.connectorName).toBe(
      canonical.name.includes('${') ? 'pems-sync-pfa-modification' : canonical.name,
    );
    expect(Object.keys(config).sort()).toEqual(Object.keys(canonical.config).sort());
    // Placeholders (${NAME}) and these are per deployment; everything else is the design.
    const perDeployment = new Set(['topic.creation.default.replication.factor']);
    for (const [k, v] of Object.entries(canonical.config)) {
      expect({ k, type: typeof config[k] }).toEqual({ k, type: 'string' });
      if (!/\$\{[A-Z_]+\}/.test(v) && !perDeployment.has(k)) expect({ k, v: config[k] }).toEqual({ k, v });
    }
    expect(config['message.key.columns']).toBe('public.pfa_modification:organization_id,pfa_id');
    // The tuning settings are per deployment, with the local stack's measured defaults.
    for (const [k, name] of Object.entries(DEBEZIUM_TUNING))
      expect({ k, v: config[k] }).toEqual({ k, v: envShDefault(name) });
  });

  it('has the templates the chart promises', () => {
    const templates = readdirSync(join(repo, chart, 'templates'));
    const all = templates.map((t) => read(`${chart}/templates/${t}`)).join('\n');
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'Secret', 'PodDisruptionBudget', 'Job'])
      expect(all).toContain(`kind: ${kind}`);
    expect(all).toContain('.Values.secret.existingSecret');
    expect(all).toMatch(/helm\.sh\/hook: post-install,post-upgrade/);
    expect(statSync(join(repo, chart, 'Chart.yaml')).isFile()).toBe(true);
  });
});

describe('observability files', () => {
  /** Metric names the code registers (pems_sync_*), from every metrics module. */
  const registered = new Set(
    [
      'connectors/observability/metrics.ts',
      'connectors/observability/sync-health-metrics.ts',
      'connectors/source/metrics.ts',
      'connectors/pems/rate-limiter.ts',
    ]
      .filter((p) => existsSync(join(repo, p)))
      .flatMap((p) => [...read(p).matchAll(/'(pems_sync_[a-z0-9_]+)'/g)].map((m) => m[1]!)),
  );

  it('charts only metrics the code registers, including the ones operators need', () => {
    const dashboard = JSON.parse(read('deploy/grafana/pems-sync-dashboard.json')) as {
      panels: Array<{ targets: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const used = new Set(
      exprs.flatMap((e) =>
        [...e.matchAll(/pems_sync_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')),
      ),
    );
    for (const name of used) expect({ name, registered: registered.has(name) }).toEqual({ name, registered: true });
    for (const name of [
      'pems_sync_modifications_total',
      'pems_sync_commit_to_pems_seconds',
      'pems_sync_pems_requests_total',
      'pems_sync_consumer_lag',
      'pems_sync_dead_letters_total',
      'pems_sync_pems_reachable',
    ]) {
      expect(used).toContain(name);
    }
    expect(exprs.some((e) => e.includes('histogram_quantile(0.95'))).toBe(true);
    expect(exprs.some((e) => e.includes('histogram_quantile(0.5'))).toBe(true);
  });

  it('scrapes the ops port of every pems-sync process of the compose stack', () => {
    const prometheus = parseYaml(read('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: Array<{ static_configs?: Array<{ targets: string[] }> }>;
    };
    const targets = prometheus.scrape_configs.flatMap((c) => (c.static_configs ?? []).flatMap((s) => s.targets));
    for (const name of ['sink', 'control-api', 'source']) {
      expect(compose.services[name]).toBeDefined();
      expect(targets).toContain(`${name}:${envOf(compose.services[name]!).PEMS_SYNC_HTTP_PORT ?? httpPortDefault}`);
    }
  });
});

describe('monitoring services of the compose stack (issue 17)', () => {
  const loopbackOnly = (ports: unknown[] | undefined): boolean =>
    (ports ?? []).every((p) => typeof p === 'string' && p.startsWith('${PUBLISH_ADDRESS:-127.0.0.1}:'));

  it('has Prometheus, Alertmanager, Mailpit, the Slack receiver, Grafana and Kafka UI, all on 127.0.0.1 unless PUBLISH_ADDRESS says otherwise', () => {
    for (const name of ['prometheus', 'alertmanager', 'mailpit', 'slack-receiver', 'grafana', 'kafka-ui']) {
      const svc = compose.services[name];
      expect({ name, defined: svc !== undefined }).toEqual({ name, defined: true });
      expect({ name, ports: svc!.ports, loopback: loopbackOnly(svc!.ports) }).toEqual({
        name,
        ports: svc!.ports,
        loopback: true,
      });
    }
  });

  it('wires Prometheus to the rules file and Alertmanager, and Alertmanager to Mailpit and the Slack receiver', () => {
    const volumes = (compose.services.prometheus!.volumes ?? []).map(String);
    expect(volumes).toContain(
      './deploy/helm/pems-sync/files/pems-sync.rules.yml:/etc/prometheus/rules/pems-sync.rules.yml:ro',
    );
    const prometheus = parseYaml(read('deploy/prometheus/prometheus.yml')) as {
      rule_files: string[];
      alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
    };
    expect(prometheus.rule_files).toEqual(['/etc/prometheus/rules/pems-sync.rules.yml']);
    expect(prometheus.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual(['alertmanager:9093']);
    expect((compose.services.alertmanager!.volumes ?? []).map(String)).toContain(
      './deploy/alertmanager/alertmanager.compose.yml:/etc/alertmanager/alertmanager.yml:ro',
    );
    const am = parseYaml(read('deploy/alertmanager/alertmanager.compose.yml')) as { global: Record<string, string> };
    expect(am.global.smtp_smarthost).toBe('mailpit:1025');
    expect(am.global.slack_api_url).toBe('http://slack-receiver:8027/services/local');
  });

  it('provisions Grafana with the dashboard and Kafka UI with the registry (Avro) and the Connect cluster', () => {
    expect(
      (compose.services.grafana!.volumes ?? [])
        .map(String)
        .some((v) => v.startsWith('./deploy/grafana/pems-sync-dashboard.json:')),
    ).toBe(true);
    const ui = envOf(compose.services['kafka-ui']!);
    expect(ui.KAFKA_CLUSTERS_0_SCHEMAREGISTRY).toBe('http://schema-registry:8080/apis/ccompat/v7');
    expect(ui.KAFKA_CLUSTERS_0_KAFKACONNECT_0_ADDRESS).toBe('http://connect:8083');
  });
});
