/**
 * The control API as the CLI calls it: base URL from --api-url, PEMS_SYNC_API_URL or the config's
 * controlApi.host:port; the bearer token from --token, PEMS_SYNC_API_TOKEN, or minted for
 * `--as USER` with PEMS_SYNC_JWT_SECRET (development). HTTP answers map to exit codes: 400 → 2,
 * 401/403/409 → 6, 404 → 4, no answer → 5; the API's own message is shown as it is.
 */
import type { Command } from 'commander';
import type { CliContext } from './context';
import { CliError, EXIT, unavailable, usage } from './output';
import { mintToken } from './users';

export interface ApiOptions {
  apiUrl?: string;
  token?: string;
  as?: string;
}

/** The options every control-API command takes. */
export function withApiOptions(c: Command): Command {
  return c
    .option('--api-url <url>', 'control API base URL (default PEMS_SYNC_API_URL, else http://controlApi.host:port)')
    .option('--token <jwt>', 'bearer token (default PEMS_SYNC_API_TOKEN)')
    .option('--as <user>', 'mint a short-lived token for this user with PEMS_SYNC_JWT_SECRET (development)');
}

export class ApiClient {
  constructor(
    private readonly ctx: CliContext,
    private readonly opts: ApiOptions,
  ) {}

  private base(): string {
    const fromEnv = this.ctx.io.env.PEMS_SYNC_API_URL;
    if (this.opts.apiUrl) return this.opts.apiUrl.replace(/\/+$/, '');
    if (fromEnv) return fromEnv.replace(/\/+$/, '');
    const { host, port } = this.ctx.config.controlApi;
    return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  }

  private async token(): Promise<string> {
    if (this.opts.token) return this.opts.token;
    if (this.opts.as) {
      const secret = this.ctx.config.controlApi.jwtSecret;
      if (secret === '')
        throw new CliError(EXIT.REFUSED, '--as needs PEMS_SYNC_JWT_SECRET (or give --token / PEMS_SYNC_API_TOKEN)');
      const { jwtIssuer, jwtAudience } = this.ctx.config.controlApi;
      return mintToken(secret, this.opts.as, 300, { issuer: jwtIssuer, audience: jwtAudience });
    }
    const t = this.ctx.io.env.PEMS_SYNC_API_TOKEN;
    if (t) return t;
    throw usage(
      'the control API needs a token: --token, PEMS_SYNC_API_TOKEN, or --as USER (pems-sync token mint USER)',
    );
  }

  /** One request; the parsed JSON body, typed by the caller as the route documents it. */
  async request<T = unknown>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    query?: Record<string, string | number | undefined>,
  ): Promise<T> {
    const res = await this.send(method, path, body, query);
    const text = await res.text();
    return (text === '' ? null : JSON.parse(text)) as T;
  }

  async send(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    query?: Record<string, string | number | undefined>,
  ): Promise<Response> {
    const url = new URL(`${this.base()}${path}`);
    for (const [k, v] of Object.entries(query ?? {}))
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {
      authorization: `Bearer ${await this.token()}`,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (e) {
      throw unavailable(
        `the control API at ${this.base()} could not be reached (${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}); set --api-url or PEMS_SYNC_API_URL`,
      );
    }
    if (res.ok) return res;
    const text = await res.text();
    let message = text;
    try {
      const j = JSON.parse(text) as { message?: string; code?: string };
      message = j.message ? `${j.message}${j.code ? ` (${j.code})` : ''}` : text;
    } catch {
      // not JSON
    }
    const code =
      res.status === 400
        ? EXIT.USAGE
        : res.status === 404
          ? EXIT.NOT_FOUND
          : [401, 403, 409, 422].includes(res.status)
            ? EXIT.REFUSED
            : res.status >= 500
              ? EXIT.UNAVAILABLE
              : EXIT.FAILED;
    throw new CliError(code, `control API ${method} ${url.pathname}: ${res.status} ${message}`);
  }

  /** Every item of a cursor-paged list (at most `max`). */
  async all<T>(path: string, query: Record<string, string | number | undefined>, max = 10_000): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.request<{ items: T[]; nextCursor: string | null }>('GET', path, undefined, {
        ...query,
        limit: 100,
        cursor,
      });
      out.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor && out.length < max);
    return out.slice(0, max);
  }
}
