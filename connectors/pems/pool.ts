/**
 * The one way a process builds PEMS clients: one client per organization, built from the
 * organization's row (base URL, tenant, encrypted credential) and `Config.pems`.
 *
 *  - the credential is decrypted in memory only (PEMS_SYNC_CREDENTIAL_KEYS, bound to the
 *    organization id);
 *  - the rate limiter is the shared one: pems.rateLimitPerSecond per credential, the window
 *    stretched by pems.rateLimitMarginMs, its ledger in Redis (redis.url) under the same key
 *    prefix in every process, so the sink, the read side, reconcile and the CLI spend one budget;
 *    its wait and Retry-After metrics go to the process's registry;
 *  - a client is reused while the organization's URL, tenant and credential stay the same, and
 *    rebuilt (the old one closed) when one of them changes;
 *  - close() closes every client and limiter, and keeps going past a failing one.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Config } from '../../schemas/config';
import { PemsClient, type PemsClientOptions } from './client';
import { CREDENTIAL_KEYS_ENV, decryptCredential, parseCredentialKeys, type CredentialKeyRing } from './credentials';
import { createRateLimiter, credentialId, type RateLimiter } from './rate-limiter';
import type { PacingCurve } from '../../streams/pacing';

/** What the pool needs of an organization's row. */
export interface PemsOrganization {
  id: string;
  baseUrl: string;
  tenant: string;
  credentialEncrypted: string;
}

export interface PemsClientPoolOptions {
  /** Decrypts organization.pems_credential_encrypted; null: no client can be built (MISSING_CREDENTIAL_KEYS). */
  keyRing: CredentialKeyRing | null;
  /** Per request, ms (pems.timeoutMs). Default 30000. */
  timeoutMs?: number;
  allowInsecureHttp?: boolean;
  /** Hosts a PEMS base URL may point at (pems.allowedHosts); empty: any. */
  allowedHosts?: readonly string[];
  /** Extra CA to trust (pems.caFile's content: the simulator's certificate). */
  ca?: string | Buffer;
  /** Requests per second per credential (pems.rateLimitPerSecond); 0 disables the limit. Default 10. */
  rateLimitPerSecond?: number;
  /** Added to the limiter's one-second window, ms (pems.rateLimitMarginMs). Default the limiter's (100). */
  rateLimitMarginMs?: number;
  /** How batch requests are spread over the window (pems.pacing). Default the limiter's ('linear'). */
  pacing?: PacingCurve;
  /** Tokens per window batch requests leave for the others (pems.pacingHeadroom). Default the limiter's (1). */
  pacingHeadroom?: number;
  /** Redis (URL or client) of the shared limiter ledger; empty: in-process (this process only). */
  redis?: string | Redis | null;
  /** Key prefix of the shared limiter; default the limiter's ('pems-sync:', every process's). Tests use their own. */
  rateLimiterKeyPrefix?: string;
  /** Where the limiter registers its metrics. */
  registry?: Registry;
  /** Retries of a safe request inside the client (axios-retry); 0 for the sink, which backs off itself. Default 3. */
  retries?: number;
  /** Applied last to every client's options (tests: the simulator's CA; the CLI: onResponse). */
  clientOverrides?: Partial<PemsClientOptions>;
}

/** Why no organization's client can be built when the credential keys are missing. */
export const MISSING_CREDENTIAL_KEYS = `${CREDENTIAL_KEYS_ENV} is not set: organization credentials cannot be decrypted`;

/** A limiter that never waits (pems.rateLimitPerSecond 0: benchmarks only). */
export const UNLIMITED: RateLimiter = {
  acquire: async () => 0,
  reportRetryAfter: async () => undefined,
  close: async () => undefined,
};

interface Pooled {
  fingerprint: string;
  client: PemsClient;
  limiter: RateLimiter;
}

export class PemsClientPool {
  private readonly clients = new Map<string, Pooled>();
  private closing?: Promise<void>;

  constructor(private readonly opts: PemsClientPoolOptions) {}

  /**
   * A pool from the configuration: pems.* (credential keys, CA file, timeout, URL rules, rate limit
   * and margin) and redis.url; `extra` adds what only the process has (its registry, its Redis
   * client) or overrides (the CLI's --ca-file).
   */
  static fromConfig(
    config: Pick<Config, 'pems' | 'redis'>,
    extra: Partial<PemsClientPoolOptions> = {},
  ): PemsClientPool {
    const p = config.pems;
    return new PemsClientPool({
      keyRing: p.credentialKeys ? parseCredentialKeys(p.credentialKeys, CREDENTIAL_KEYS_ENV) : null,
      timeoutMs: p.timeoutMs,
      allowInsecureHttp: p.allowInsecureHttp,
      allowedHosts: p.allowedHosts,
      ca: p.caFile ? readFileSync(p.caFile) : undefined,
      rateLimitPerSecond: p.rateLimitPerSecond,
      rateLimitMarginMs: p.rateLimitMarginMs,
      pacing: p.pacing as PacingCurve,
      pacingHeadroom: p.pacingHeadroom,
      redis: config.redis.url || null,
      ...extra,
    });
  }

  /** Whether credentials can be decrypted at all (false: clientFor throws MISSING_CREDENTIAL_KEYS). */
  get canDecrypt(): boolean {
    return this.opts.keyRing !== null;
  }

  /**
   * The organization's client, built on first use and whenever its URL, tenant or credential
   * changed. Throws when the credential does not decrypt for this organization or the URL breaks
   * the PEMS URL rules (https, pems.allowedHosts); the error names the reason.
   */
  clientFor(org: PemsOrganization): PemsClient {
    const fingerprint = `${org.baseUrl}\u0000${org.tenant}\u0000${org.credentialEncrypted}`;
    const cached = this.clients.get(org.id);
    if (cached && cached.fingerprint === fingerprint) return cached.client;
    if (cached) {
      this.clients.delete(org.id);
      void this.release(cached);
    }
    if (!this.opts.keyRing) throw new Error(MISSING_CREDENTIAL_KEYS);
    const apiKey = decryptCredential(org.credentialEncrypted, this.opts.keyRing, org.id);
    const perSecond = this.opts.rateLimitPerSecond ?? 10;
    const limiter =
      perSecond > 0
        ? createRateLimiter({
            credentialId: credentialId(org.tenant, org.id, apiKey.reveal()),
            limit: perSecond,
            safetyMarginMs: this.opts.rateLimitMarginMs,
            pacing: this.opts.pacing,
            headroom: this.opts.pacingHeadroom,
            redis: this.opts.redis || undefined,
            keyPrefix: this.opts.rateLimiterKeyPrefix,
            registry: this.opts.registry,
          })
        : UNLIMITED;
    let client: PemsClient;
    try {
      client = new PemsClient({
        baseUrl: org.baseUrl,
        apiKey,
        tenant: org.tenant,
        organization: org.id,
        timeoutMs: this.opts.timeoutMs,
        allowInsecureHttp: this.opts.allowInsecureHttp,
        allowedHosts: this.opts.allowedHosts,
        ca: this.opts.ca,
        rateLimiter: limiter,
        retry: { retries: this.opts.retries ?? 3 },
        ...this.opts.clientOverrides,
      });
    } catch (e) {
      void limiter.close();
      throw e;
    }
    this.clients.set(org.id, { fingerprint, client, limiter });
    return client;
  }

  /** Closes and forgets the organization's client (its next clientFor builds a new one). */
  async evict(organizationId: string): Promise<void> {
    const pooled = this.clients.get(organizationId);
    if (!pooled) return;
    this.clients.delete(organizationId);
    await this.release(pooled);
  }

  /** Idempotent: closes every client and its limiter (a limiter given to a client is not closed by it). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const all = [...this.clients.values()];
      this.clients.clear();
      await Promise.allSettled(all.map((p) => this.release(p)));
    })();
    return this.closing;
  }

  private async release(p: Pooled): Promise<void> {
    await Promise.allSettled([p.client.close(), p.limiter.close()]);
  }
}
