/**
 * JSON logs on stdout (pino), with secrets censored before they are written.
 *
 * Redaction is path based (pino `redact`, @pinojs/redact): a path is matched by key name,
 * case-sensitively, at the top level and up to two levels down (`*.x`, `*.*.x`), because
 * pino's wildcards match exactly one level. Both spellings of HTTP headers are listed:
 * Node lower-cases incoming headers but axios keeps `Authorization` as written.
 * The config's own secrets come from schemas/config.ts (every `secret: true` setting), so a
 * new secret setting is masked in `{ config }` logs without touching this file; still, log
 * `redactConfig(config)` rather than the raw config.
 */
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { SETTINGS } from '../../schemas/config';

export type { Logger, DestinationStream } from 'pino';

/** What a masked value reads as. */
export const CENSOR = '***';

/** Key names that hold a secret wherever they appear. */
const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'proxy-authorization',
  'Proxy-Authorization',
  'cookie',
  'Cookie',
  'set-cookie',
  'Set-Cookie',
  'x-api-key',
  'X-Api-Key',
  'apiKey',
  'api_key',
  'apikey',
  'password',
  'passwd',
  'credential',
  'credentials',
  'secret',
  'clientSecret',
  'client_secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'privateKey',
  'private_key',
  'saslPassword',
  'jwtSecret',
  'credentialKeys',
  'webhookUrls',
  'connectionString',
] as const;

/** Where an HTTP client error (axios) keeps the request headers; pino's `err` serializer keeps them. */
const EXTRA_PATHS = [
  'headers.authorization',
  'headers.Authorization',
  'err.config.headers.Authorization',
  'err.config.headers.authorization',
  'err.config.auth',
  'err.response.config.headers.Authorization',
  'err.response.config.headers.authorization',
  'err.request.headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

function pathFor(prefix: string, key: string): string {
  // Keys that are not identifiers need bracket notation (x-api-key, set-cookie).
  const seg = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`;
  return prefix === '' ? seg.replace(/^\./, '') : `${prefix}${seg}`;
}

/** Every redacted path (exported for tests and for other pino instances of the project). */
export function redactPaths(): string[] {
  const paths = new Set<string>();
  for (const key of SECRET_KEYS) {
    for (const prefix of ['', '*', '*.*']) paths.add(pathFor(prefix, key));
  }
  for (const [key, s] of Object.entries(SETTINGS) as Array<[string, { secret?: boolean }]>) {
    if (!s.secret) continue;
    // `config.database.url` (a logged Config) and `database.url` (a logged section).
    paths.add(`config.${key}`);
    paths.add(key);
  }
  for (const p of EXTRA_PATHS) paths.add(p);
  return [...paths];
}

/**
 * A JSON logger at `level` ('fatal'..'trace' or 'silent'), with `bindings` on every line and
 * secrets censored as '***'. `destination` defaults to stdout; tests pass a stream.
 */
export function createLogger(
  level: string,
  bindings: Record<string, unknown> = {},
  destination?: DestinationStream,
): Logger {
  const options: LoggerOptions = {
    level,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names ("level":"warn") read better than numbers in log search; pino's default is numeric.
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: redactPaths(), censor: CENSOR },
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
  // Without a destination pino writes to stdout synchronously, so the last lines before a crash are kept.
  return destination ? pino(options, destination) : pino(options);
}
