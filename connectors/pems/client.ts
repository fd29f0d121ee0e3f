/**
 * The production PEMS client: the contract of schemas/openapi/pems-api.json over axios, with
 *  - HTTPS enforced (plain http only with allowInsecureHttp, for a local simulator),
 *  - a keep-alive agent and a per-request timeout,
 *  - the shared per-credential rate limiter before every request (every attempt, retries too),
 *  - axios-retry only where a retry cannot write twice: GETs (5xx and network errors), and
 *    connection-level failures of writes that carry an idempotency key. Anything else is left to
 *    the sink, which owns the backoff for writes (streams/retry),
 *  - every failure mapped to a typed PemsSyncError (./errors) with the secret scrubbed off it.
 */
import http from 'node:http';
import https from 'node:https';
import axios, {
  AxiosError,
  AxiosHeaders,
  type AxiosInstance,
  type AxiosRequestConfig,
  type InternalAxiosRequestConfig,
} from 'axios';
import axiosRetry from 'axios-retry';
import { ConfigError } from '../../streams/errors';
import { checkPemsUrl } from '../../streams/pems-url';
import { observeResponses } from './observe-responses';
import type { PfaRecord } from '../../streams/pfa-record';
import { Secret } from './credentials';
import { mapPemsError, PemsRejectedError, PemsUnexpectedError } from './errors';
import { credentialId, InProcessRateLimiter, type RateLimiter, type RateLimitSlot } from './rate-limiter';

export interface PemsClientOptions {
  /** e.g. https://pems.example.com/api/pems */
  baseUrl: string;
  apiKey: string | Secret;
  tenant: string;
  organization: string;
  /** Per attempt, ms. Default 30000. */
  timeoutMs?: number;
  /** Extra CA certificate(s) to trust, PEM (the simulator's self-signed certificate). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Verify the server certificate. Default true; false only for a local simulator. */
  rejectUnauthorized?: boolean;
  /** Allow an http:// baseUrl. Default false. */
  allowInsecureHttp?: boolean;
  /** Hosts the base URL may point at (config pems.allowedHosts); empty or absent: any. */
  allowedHosts?: readonly string[];
  /** Shared limiter; default an in-process one for this credential (10 req/s). */
  rateLimiter?: RateLimiter;
  /** Automatic retries for safe requests (see file comment). Defaults: 3 retries, 200 ms base, 5 s cap. */
  retry?: { retries?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Keep-alive sockets per host. Default 10 (the rate limit makes more pointless). */
  maxSockets?: number;
  /** Sees the status and headers of every answer (`pems-sync org check` reads PEMS's rate-limit headers). */
  onResponse?: (status: number, headers: Record<string, string>) => void;
}

export { itemError } from './item-error';
import type {
  BatchItem,
  BatchItemResult,
  ListPage,
  ListQuery,
  SoftDeleteRequest,
  UpdateRequest,
  UpdateResult,
} from './api-types';

// Every type of the contract module, re-exported once (the import above is what this file uses).
export type * from './api-types';

export const MAX_BATCH_ITEMS = 100;

/** Config flag carried on a request: a retry cannot apply it twice. */
interface PemsRequestConfig extends AxiosRequestConfig {
  pemsRetrySafe?: boolean;
  /** A rate-limit token the caller already holds (reserveRequest). */
  pemsSlot?: RequestSlot;
}

/** A rate-limit token held for one request; release() restarts its window (see RateLimiter.acquireSlot). */
/** A rate-limit token taken for one request (release once answered, cancel if never sent). */
export type RequestSlot = RateLimitSlot;

const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function isConnectionLevel(e: AxiosError): boolean {
  if (e.response) return false;
  if (e.code && CONNECTION_CODES.has(e.code)) return true;
  return /socket hang up/i.test(e.message);
}

/** Removes the bearer credential from an axios error before anyone can log it. */
function scrub(err: unknown): void {
  if (!(err instanceof AxiosError)) return;
  if (err.config) {
    // A copy: the live config may still be in use. Agents go too: a keep-alive agent's sockets
    // remember their connect options, headers included.
    const headers = AxiosHeaders.from(err.config.headers as AxiosHeaders);
    if (headers.has('Authorization')) headers.set('Authorization', 'Bearer ***');
    err.config = { ...err.config, headers, httpsAgent: undefined, httpAgent: undefined };
  }
  // The ClientRequest keeps the raw header block (with the key) in _header.
  err.request = undefined;
  if (err.response) {
    (err.response as { request?: unknown }).request = undefined;
    if (err.config) err.response.config = err.config;
  }
}

export class PemsClient {
  readonly organization: string;
  readonly tenant: string;
  private readonly http: AxiosInstance;
  private readonly agent: http.Agent;
  private readonly limiter: RateLimiter;
  private readonly ownsLimiter: boolean;
  private readonly apiKey: Secret;

  constructor(options: PemsClientOptions) {
    // The credential is sent to this URL: scheme and host are checked before anything else.
    const verdict = checkPemsUrl(options.baseUrl, {
      allowInsecureHttp: options.allowInsecureHttp ?? false,
      allowedHosts: options.allowedHosts ?? [],
    });
    if (!verdict.ok) throw new ConfigError('baseUrl', verdict.reason);
    const url = verdict.url;
    if (!options.tenant) throw new ConfigError('tenant', 'is required');
    if (!options.organization) throw new ConfigError('organization', 'is required');
    this.apiKey = options.apiKey instanceof Secret ? options.apiKey : new Secret(options.apiKey);
    if (!this.apiKey.reveal()) throw new ConfigError('apiKey', 'is required');
    const timeoutMs = options.timeoutMs ?? 30_000;
    if (!(timeoutMs > 0)) throw new ConfigError('timeoutMs', 'must be > 0');
    this.organization = options.organization;
    this.tenant = options.tenant;

    const maxSockets = options.maxSockets ?? 10;
    this.agent =
      url.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            maxSockets,
            ca: options.ca,
            rejectUnauthorized: options.rejectUnauthorized ?? true,
          })
        : new http.Agent({ keepAlive: true, maxSockets });

    this.limiter =
      options.rateLimiter ??
      new InProcessRateLimiter({
        credentialId: credentialId(options.tenant, options.organization, this.apiKey.reveal()),
      });
    this.ownsLimiter = options.rateLimiter === undefined;

    this.http = axios.create({
      baseURL: url.toString().replace(/\/$/, ''),
      timeout: timeoutMs,
      httpsAgent: url.protocol === 'https:' ? this.agent : undefined,
      httpAgent: url.protocol === 'http:' ? this.agent : undefined,
      headers: { tenant: options.tenant, organization: options.organization, accept: 'application/json' },
      // Our own limits on what PEMS may send back: a record page is well under this.
      maxContentLength: 64 * 1024 * 1024,
      maxRedirects: 0,
    });

    if (options.onResponse) observeResponses(this.http, options.onResponse);

    // Every attempt, first or retried, spends a token from the shared budget.
    this.http.interceptors.request.use(async (config: InternalAxiosRequestConfig) => {
      const reserved = (config as { pemsSlot?: RequestSlot }).pemsSlot;
      if (reserved) {
        // Taken by the caller before it built the request (reserveRequest); a retry takes its own.
        delete (config as { pemsSlot?: RequestSlot }).pemsSlot;
        (config as InternalAxiosRequestConfig & { pemsRelease?: () => Promise<void> }).pemsRelease = reserved.release;
      } else if (this.limiter.acquireSlot) {
        const slot = await this.limiter.acquireSlot();
        (config as InternalAxiosRequestConfig & { pemsRelease?: () => Promise<void> }).pemsRelease = slot.release;
      } else {
        await this.limiter.acquire();
      }
      config.headers.set('Authorization', `Bearer ${this.apiKey.reveal()}`);
      return config;
    });
    // The token's window restarts when the answer (or the failure) arrives: see RateLimiter.acquireSlot.
    const release = async (config: unknown): Promise<void> => {
      await (config as { pemsRelease?: () => Promise<void> } | undefined)?.pemsRelease?.();
    };
    this.http.interceptors.response.use(
      async (res) => {
        await release(res.config);
        return res;
      },
      async (err: unknown) => {
        await release((err as { config?: unknown }).config);
        throw err;
      },
    );

    const retries = options.retry?.retries ?? 3;
    const base = options.retry?.baseDelayMs ?? 200;
    const cap = options.retry?.maxDelayMs ?? 5000;
    axiosRetry(this.http, {
      retries,
      shouldResetTimeout: true,
      retryDelay: (n) => Math.min(cap, base * 2 ** (n - 1)) * (0.5 + Math.random() / 2),
      retryCondition: (e) => {
        const config = e.config as PemsRequestConfig | undefined;
        if (!config) return false;
        const method = (config.method ?? 'get').toLowerCase();
        if (method === 'get' || method === 'head') {
          if (e.response) return e.response.status >= 500;
          return isConnectionLevel(e) || e.code === 'ECONNABORTED';
        }
        return config.pemsRetrySafe === true && isConnectionLevel(e);
      },
    });
  }

  private async call<T>(
    what: string,
    config: PemsRequestConfig,
  ): Promise<{ data: T; headers: Record<string, unknown> }> {
    try {
      const res = await this.http.request<T>(config);
      return { data: res.data, headers: res.headers as Record<string, unknown> };
    } catch (e) {
      scrub(e);
      const mapped = mapPemsError(e, what);
      if (mapped.code === 'PEMS_SYNC_PEMS_RATE_LIMITED') {
        // Tell every caller of this credential to hold off, not just this one.
        await this.limiter.reportRetryAfter(mapped.details.retryAfterMs as number).catch(() => undefined);
      }
      throw mapped;
    }
  }

  private expectObject(what: string, data: unknown, required: string[]): Record<string, unknown> {
    if (
      data === null ||
      typeof data !== 'object' ||
      Array.isArray(data) ||
      required.some((k) => !(k in (data as object)))
    ) {
      throw new PemsUnexpectedError(`${what}: PEMS answered with an unexpected body`, { required });
    }
    return data as Record<string, unknown>;
  }

  async getRecord(pfaId: string): Promise<PfaRecord> {
    const what = `GET /pfa/${pfaId}`;
    const { data } = await this.call<PfaRecord>(what, { method: 'GET', url: `/pfa/${encodeURIComponent(pfaId)}` });
    return this.expectObject(what, data, ['pfaId', 'version']) as unknown as PfaRecord;
  }

  /** One page of records changed since `updatedSince`, ordered by (updatedAt, pfaId). */
  async listChanged(query: ListQuery = {}): Promise<ListPage> {
    const params: Record<string, string | number> = { organization: this.organization, limit: query.limit ?? 500 };
    if (query.updatedSince) params.updatedSince = query.updatedSince;
    if (query.cursor) params.cursor = query.cursor;
    const { data } = await this.call<ListPage>('GET /pfa', { method: 'GET', url: '/pfa', params });
    const body = this.expectObject('GET /pfa', data, ['records']);
    if (!Array.isArray(body.records)) throw new PemsUnexpectedError('GET /pfa: records is not an array', {});
    return {
      records: body.records as PfaRecord[],
      nextCursor: typeof body.nextCursor === 'string' ? body.nextCursor : null,
    };
  }

  /** Every page from `updatedSince` (or `cursor`) until PEMS has no next cursor. */
  async *pages(query: ListQuery = {}): AsyncGenerator<ListPage, void, undefined> {
    let cursor = query.cursor;
    for (;;) {
      const page = await this.listChanged({ ...query, cursor });
      yield page;
      if (!page.nextCursor) return;
      cursor = page.nextCursor;
    }
  }

  async updateRecord(pfaId: string, update: UpdateRequest, options: { idempotencyKey: string }): Promise<UpdateResult> {
    const what = `PUT /pfa/${pfaId}`;
    const { data, headers } = await this.call<Record<string, unknown>>(what, {
      method: 'PUT',
      url: `/pfa/${encodeURIComponent(pfaId)}`,
      headers: { 'Idempotency-Key': options.idempotencyKey },
      data: { organizationCode: this.organization, ...update },
      pemsRetrySafe: true,
    });
    const body = this.expectObject(what, data, ['newVersion']);
    return {
      success: body.success !== false,
      pfaId: typeof body.pfaId === 'string' ? body.pfaId : pfaId,
      newVersion: Number(body.newVersion),
      updatedAt: String(body.updatedAt ?? ''),
      replayed: String(headers['idempotent-replayed'] ?? '') === 'true',
    };
  }

  /**
   * Up to 100 updates in one request. Each item stands alone: the result lists one outcome per
   * item, in order; use itemError() to turn a failed item into the same typed error a single PUT
   * would have thrown.
   */
  /**
   * Takes a rate-limit token now for a request built later: a batcher waits for the token
   * first and then fills the request with everything queued by then, instead of fixing the
   * batch and then waiting. Pass the slot to the request; release it if the request is dropped.
   */
  async reserveRequest(): Promise<RequestSlot> {
    // Paced (streams/pacing.ts): a batch writer's requests are spread over the window.
    if (this.limiter.acquireSlot) return this.limiter.acquireSlot({ paced: true });
    const waitedMs = await this.limiter.acquire();
    return { waitedMs, release: async () => undefined, cancel: async () => undefined };
  }

  async batchUpdate(items: BatchItem[], options: { slot?: RequestSlot } = {}): Promise<BatchItemResult[]> {
    if (items.length === 0) return [];
    if (items.length > MAX_BATCH_ITEMS) {
      throw new PemsRejectedError(`POST /pfa/batch: ${items.length} items, at most ${MAX_BATCH_ITEMS}`, {
        status: 413,
        error: 'BATCH_TOO_LARGE',
        fieldErrors: [],
      });
    }
    const { data } = await this.call<{ results: BatchItemResult[] }>('POST /pfa/batch', {
      method: 'POST',
      url: '/pfa/batch',
      data: { organizationCode: this.organization, items },
      // Retrying is harmless only when every item carries its key.
      pemsRetrySafe: items.every((i) => typeof i.idempotencyKey === 'string' && i.idempotencyKey !== ''),
      ...(options.slot ? { pemsSlot: options.slot } : {}),
    });
    const body = this.expectObject('POST /pfa/batch', data, ['results']);
    if (!Array.isArray(body.results) || body.results.length !== items.length) {
      throw new PemsUnexpectedError('POST /pfa/batch: results do not match the items sent', { sent: items.length });
    }
    return body.results as BatchItemResult[];
  }

  async softDelete(
    pfaId: string,
    request: SoftDeleteRequest,
    options: { idempotencyKey: string },
  ): Promise<{ newVersion: number }> {
    const what = `DELETE /pfa/${pfaId}`;
    const { data } = await this.call<{ newVersion: number }>(what, {
      method: 'DELETE',
      url: `/pfa/${encodeURIComponent(pfaId)}`,
      params: { version: request.version },
      headers: { 'Idempotency-Key': options.idempotencyKey },
      data: { modifiedBy: request.modifiedBy, reason: request.reason },
      pemsRetrySafe: true,
    });
    const body = this.expectObject(what, data, ['newVersion']);
    return { newVersion: Number(body.newVersion) };
  }

  async health(): Promise<{ status: string }> {
    const { data } = await this.call<{ status?: string }>('GET /health', { method: 'GET', url: '/health' });
    return { status: typeof data?.status === 'string' ? data.status : 'UP' };
  }

  /** Idempotent: frees keep-alive sockets, and the limiter when the client created it. */
  async close(): Promise<void> {
    this.agent.destroy();
    if (this.ownsLimiter) await this.limiter.close();
  }
}
