import { Writable } from 'node:stream';
import { createLogger, redactPaths, CENSOR } from '../../../../connectors/observability/logger';
import { loadConfig } from '../../../../schemas/config';

/** A destination that keeps every line pino writes. */
function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const text = (): string => chunks.join('');
  const lines = (): Array<Record<string, unknown>> =>
    text()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { stream, lines, text };
}

const SECRET = 'hunter2-very-secret-value';

describe('createLogger', () => {
  it('when an object with an Authorization header and a password is logged, then neither secret is printed', () => {
    const out = capture();
    const log = createLogger('info', { component: 'test' }, out.stream);
    log.info(
      {
        headers: { Authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
        req: { headers: { authorization: `Basic ${SECRET}` } },
        password: SECRET,
        pems: { apiKey: SECRET, api_key: SECRET, organization: 'RIO' },
        deep: { nested: { token: SECRET } },
      },
      'calling PEMS',
    );
    expect(out.text()).not.toContain(SECRET);
    const [line] = out.lines();
    expect(line).toMatchObject({
      level: 'info',
      component: 'test',
      msg: 'calling PEMS',
      headers: { Authorization: CENSOR, 'content-type': 'application/json' },
      req: { headers: { authorization: CENSOR } },
      password: CENSOR,
      pems: { apiKey: CENSOR, api_key: CENSOR, organization: 'RIO' },
      deep: { nested: { token: CENSOR } },
    });
  });

  it('when a whole Config is logged, then its secrets are masked and the rest is kept', () => {
    const config = loadConfig({
      PEMS_SYNC_DATABASE_URL: `postgres://vanguard:${SECRET}@db:5432/vanguard`,
      PEMS_SYNC_REDIS_URL: `redis://:${SECRET}@redis:6379`,
      PEMS_SYNC_KAFKA_SASL_MECHANISM: 'plain',
      PEMS_SYNC_KAFKA_SASL_USERNAME: 'svc',
      PEMS_SYNC_KAFKA_SASL_PASSWORD: SECRET,
      PEMS_SYNC_CREDENTIAL_KEYS: `k1:${SECRET}`,
    });
    const out = capture();
    createLogger('info', {}, out.stream).info({ config }, 'starting');
    expect(out.text()).not.toContain(SECRET);
    const [line] = out.lines();
    expect(line).toMatchObject({
      config: {
        database: { url: CENSOR, poolMax: 10 },
        redis: { url: CENSOR },
        kafka: { saslPassword: CENSOR, saslUsername: 'svc' },
      },
    });
  });

  it('when bindings or a child logger carry a secret, then it is masked too', () => {
    const out = capture();
    const log = createLogger('info', { secret: SECRET }, out.stream);
    log.child({ credential: SECRET }).warn('child');
    expect(out.text()).not.toContain(SECRET);
    expect(out.lines()[0]).toMatchObject({ level: 'warn', secret: CENSOR, credential: CENSOR });
  });

  it('when an error carrying request headers is logged as err, then the header is masked and the message kept', () => {
    const out = capture();
    const err = Object.assign(new Error('PEMS answered 500'), {
      config: { headers: { Authorization: `Bearer ${SECRET}` } },
    });
    createLogger('info', {}, out.stream).error({ err }, 'failed');
    expect(out.text()).not.toContain(SECRET);
    expect(out.lines()[0]).toMatchObject({
      err: { message: 'PEMS answered 500', config: { headers: { Authorization: CENSOR } } },
    });
  });

  it('when the level is warn, then info lines are dropped', () => {
    const out = capture();
    const log = createLogger('warn', {}, out.stream);
    log.info('dropped');
    log.warn('kept');
    expect(out.lines().map((l) => l.msg)).toEqual(['kept']);
  });

  it('when the redact paths are listed, then config secrets and header spellings are among them', () => {
    const paths = redactPaths();
    expect(paths).toEqual(
      expect.arrayContaining([
        'authorization',
        '*.authorization',
        'headers.authorization',
        'config.database.url',
        'config.controlApi.jwtSecret',
        '*["x-api-key"]',
      ]),
    );
    expect(new Set(paths).size).toBe(paths.length);
  });

  it('when header names are not identifiers (x-api-key, set-cookie), then they are masked at any of the first three levels', () => {
    const out = capture();
    createLogger('info', {}, out.stream).info(
      {
        'x-api-key': SECRET,
        headers: { 'x-api-key': SECRET, 'set-cookie': [SECRET] },
        res: { raw: { 'proxy-authorization': SECRET } },
      },
      'odd names',
    );
    expect(out.text()).not.toContain(SECRET);
    expect(out.lines()[0]).toMatchObject({
      'x-api-key': CENSOR,
      headers: { 'x-api-key': CENSOR, 'set-cookie': CENSOR },
    });
  });
});
