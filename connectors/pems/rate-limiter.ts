/**
 * The PEMS request budget per credential: 10 requests per second, burst 10 (schemas/openapi/pems-api.json,
 * "Rate limit"), shared by every connector instance that uses the credential.
 *
 * Shape: a token bucket of `limit` tokens in which a spent token comes back exactly `windowMs`
 * after it was spent, rather than trickling back continuously. Same burst and sustained rate as
 * the contract's bucket, but it also guarantees at most `limit` requests in any window, which a
 * continuously refilled bucket does not (burst 10 + refill 10 = up to 20 in one second). Every
 * sequence it admits is one PEMS's bucket admits (n requests per window <= burst + rate*window),
 * so we never spend a 429. `safetyMarginMs` stretches the window to absorb network jitter:
 * requests leave in order but may arrive bunched; without the margin PEMS could see 11 in a
 * second.
 *
 * Across processes the ledger lives in Redis (a sorted set of spend times, one atomic Lua script,
 * Redis's own clock so instances with skewed clocks agree). Without Redis an in-process ledger
 * does the same for one process. Keys carry a hash of the credential, never the secret.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Counter, Histogram, type Registry } from 'prom-client';
import { PemsSyncError } from '../../streams/errors';
import { pacedCeiling, pacingExponent, pacingGapMs, type PacingCurve } from '../../streams/pacing';

export interface RateLimiter {
  /** Resolves when a request may be sent; the value is how long it waited, in ms. */
  acquire(): Promise<number>;
  /**
   * Like acquire, and the token's window restarts when `release` is called (when the answer
   * arrives). PEMS saw the request before it answered, so a token that comes back one window
   * after the answer can never make PEMS see more than `limit` requests in any window, whatever
   * the network or TLS handshakes did to the request on its way — without a wide safety margin.
   */
  acquireSlot?(options?: SlotOptions): Promise<RateLimitSlot>;
  /** PEMS answered 429: nobody using this credential sends anything for `ms`. */
  reportRetryAfter(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface SlotOptions {
  /**
   * A batch writer's request (streams/pacing.ts): it leaves no sooner than the pacing gap after
   * the previous paced request and may use only the tokens the headroom leaves.
   */
  paced?: boolean;
}

export interface RateLimitSlot {
  waitedMs: number;
  /** The request was sent and answered (or failed): its token's window restarts now. */
  release: () => Promise<void>;
  /** The request was never sent: its token is given back at once. */
  cancel: () => Promise<void>;
}

export interface RateLimiterMetrics {
  acquired: number;
  /** Acquisitions that had to wait at all. */
  waited: number;
  totalWaitMs: number;
  retryAfterReports: number;
}

export interface RateLimiterOptions {
  /** Identifies the credential; use credentialId(), never the raw key. */
  credentialId: string;
  /** Requests per window. Default 10 (contract). */
  limit?: number;
  /** Window in ms. Default 1000 (contract: per second). */
  windowMs?: number;
  /** Added to the window to absorb network jitter, ms. Default 100. */
  safetyMarginMs?: number;
  /** How paced requests are spread over the window (streams/pacing.ts). Default 'linear'. */
  pacing?: PacingCurve;
  /** Tokens per window paced requests leave for the others (rechecks, retries). Default 1. */
  headroom?: number;
  /** Called after every acquisition that waited, with the wait in ms. */
  onWait?: (waitMs: number) => void;
  /** Registers pems_sync_pems_rate_limit_wait_seconds and pems_sync_pems_retry_after_total here. */
  registry?: Registry;
}

export interface RedisRateLimiterOptions extends RateLimiterOptions {
  /** An ioredis client (not closed by close()) or a URL (a client is created and closed). */
  redis: Redis | string;
  /** Prefix of every key, e.g. 'pems-sync:'; tests use a unique one. Default 'pems-sync:'. */
  keyPrefix?: string;
}

/** A stable, non-secret id for a credential: the first 32 hex chars of sha256(tenant|org|key). */
export function credentialId(tenant: string, organization: string, apiKey: string): string {
  return createHash('sha256').update(`${tenant}\u0000${organization}\u0000${apiKey}`).digest('hex').slice(0, 32);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

abstract class BaseRateLimiter implements RateLimiter {
  protected readonly limit: number;
  protected readonly windowMs: number;
  /** Tokens of a window paced requests may use. */
  protected readonly pacedCeiling: number;
  protected readonly pacing: PacingCurve;
  /** 0: no pacing; else the exponent of the window's use (streams/pacing.ts). */
  protected readonly pacingExponent: number;
  private readonly counters: RateLimiterMetrics = { acquired: 0, waited: 0, totalWaitMs: 0, retryAfterReports: 0 };
  private readonly waitHistogram?: Histogram;
  private readonly retryAfterCounter?: Counter;

  constructor(protected readonly options: RateLimiterOptions) {
    this.limit = options.limit ?? 10;
    this.windowMs = (options.windowMs ?? 1000) + (options.safetyMarginMs ?? 100);
    if (!(this.limit >= 1) || !(this.windowMs > 0))
      throw new RangeError('rate limiter needs limit >= 1 and windowMs > 0');
    this.pacedCeiling = pacedCeiling(this.limit, options.headroom ?? 1);
    this.pacing = options.pacing ?? 'linear';
    this.pacingExponent = pacingExponent(this.pacing);
    const reg = options.registry;
    if (reg) {
      // Created idempotently: several clients may share one registry.
      this.waitHistogram =
        (reg.getSingleMetric('pems_sync_pems_rate_limit_wait_seconds') as Histogram | undefined) ??
        new Histogram({
          name: 'pems_sync_pems_rate_limit_wait_seconds',
          help: 'Time a PEMS request waited for the shared per-credential rate limit',
          labelNames: ['credential'],
          buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
          registers: [reg],
        });
      this.retryAfterCounter =
        (reg.getSingleMetric('pems_sync_pems_retry_after_total') as Counter | undefined) ??
        new Counter({
          name: 'pems_sync_pems_retry_after_total',
          help: '429 answers from PEMS reported to the shared rate limiter',
          labelNames: ['credential'],
          registers: [reg],
        });
    }
  }

  get metrics(): RateLimiterMetrics {
    return { ...this.counters };
  }

  /**
   * 0 when a token was taken (as `member`), else ms until one may be free. A paced take uses at
   * most pacedCeiling tokens and waits the pacing gap after the previous paced take.
   */
  protected abstract tryTake(member: string, paced: boolean): Promise<number>;
  /** Restarts the window of a taken token now. */
  protected abstract restamp(member: string): Promise<void>;
  /** Gives a taken token back (its request was never sent). */
  protected abstract unspend(member: string): Promise<void>;
  protected abstract block(ms: number): Promise<void>;
  abstract close(): Promise<void>;

  async acquire(): Promise<number> {
    return (await this.take(randomUUID())).waitedMs;
  }

  async acquireSlot(options: SlotOptions = {}): Promise<RateLimitSlot> {
    const member = randomUUID();
    const { waitedMs } = await this.take(member, options.paced === true);
    let done: Promise<void> | null = null;
    return {
      waitedMs,
      release: () => (done ??= this.restamp(member).catch(() => undefined)),
      cancel: () => (done ??= this.unspend(member).catch(() => undefined)),
    };
  }

  private async take(member: string, paced = false): Promise<{ waitedMs: number }> {
    const started = Date.now();
    let slept = false;
    for (;;) {
      const wait = await this.tryTake(member, paced);
      if (wait <= 0) break;
      slept = true;
      // A little jitter so waiters do not all retry in the same millisecond.
      await sleep(wait + Math.random() * 5);
    }
    // Only time spent asleep counts as waiting; the Redis round trip is not a rate-limit wait.
    const waited = slept ? Math.max(1, Date.now() - started) : 0;
    this.counters.acquired += 1;
    if (waited > 0) {
      this.counters.waited += 1;
      this.counters.totalWaitMs += waited;
      this.options.onWait?.(waited);
    }
    this.waitHistogram?.observe({ credential: this.options.credentialId.slice(0, 8) }, waited / 1000);
    return { waitedMs: waited };
  }

  async reportRetryAfter(ms: number): Promise<void> {
    this.counters.retryAfterReports += 1;
    this.retryAfterCounter?.inc({ credential: this.options.credentialId.slice(0, 8) });
    if (ms > 0) await this.block(ms);
  }
}

/** One process only: used when no Redis is configured. */
export class InProcessRateLimiter extends BaseRateLimiter {
  /** Spend times in ascending order, with the token's member id. */
  private spent: Array<{ at: number; member: string }> = [];
  private blockedUntil = 0;
  private lastPacedAt = Number.NEGATIVE_INFINITY;

  protected async tryTake(member: string, paced: boolean): Promise<number> {
    const now = performance.now();
    if (this.blockedUntil > now) return this.blockedUntil - now;
    // Tokens spent at or before now - window are back (half-open window, as PEMS counts).
    while (this.spent.length > 0 && (this.spent[0]?.at ?? 0) <= now - this.windowMs) this.spent.shift();
    const n = this.spent.length;
    const ceiling = paced ? this.pacedCeiling : this.limit;
    // Full: wait until enough of the oldest tokens are back.
    if (n >= ceiling) return Math.max(1, (this.spent[n - ceiling]?.at ?? now) + this.windowMs - now);
    if (paced) {
      const gap = pacingGapMs(n, ceiling, this.windowMs, this.pacing);
      if (this.lastPacedAt + gap > now) return Math.max(1, this.lastPacedAt + gap - now);
    }
    this.spent.push({ at: now, member });
    if (paced) this.lastPacedAt = now;
    return 0;
  }

  protected async unspend(member: string): Promise<void> {
    const i = this.spent.findIndex((t) => t.member === member);
    if (i >= 0) this.spent.splice(i, 1);
  }

  protected async restamp(member: string): Promise<void> {
    // Re-added even when the token was already back (an answer slower than a window): the
    // request may have reached PEMS late, so its window must still start at the answer.
    const i = this.spent.findIndex((t) => t.member === member);
    if (i >= 0) this.spent.splice(i, 1);
    this.spent.push({ at: performance.now(), member });
  }

  protected async block(ms: number): Promise<void> {
    this.blockedUntil = Math.max(this.blockedUntil, performance.now() + ms);
  }

  async close(): Promise<void> {
    this.spent = [];
  }
}

/**
 * KEYS[1] ledger (zset of spend times, µs), KEYS[2] block-until (µs), KEYS[3] the last paced take (µs)
 * ARGV[1] tokens this take may use (the limit, or the paced ceiling), ARGV[2] window µs,
 * ARGV[3] unique member, ARGV[4] pacing exponent (0: not paced; streams/pacing.ts)
 * Returns 0 when a token was taken, else µs to wait. Uses Redis TIME: one clock for all instances
 * (Redis 5+ replicates script effects, so a non-deterministic TIME is allowed).
 */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local exponent = tonumber(ARGV[4])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local back = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  local wait = tonumber(back[2]) + window - now
  if wait < 1 then wait = 1 end
  return wait
end
if exponent > 0 then
  local last = tonumber(redis.call('GET', KEYS[3]) or '0')
  local gap = (window / limit) * (n / limit) ^ exponent
  if last + gap > now then
    local wait = math.ceil(last + gap - now)
    if wait < 1 then wait = 1 end
    return wait
  end
  redis.call('SET', KEYS[3], string.format('%.0f', now), 'PX', math.ceil(window / 1000) * 2)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) * 2)
return 0
`;

/**
 * KEYS[1] ledger; ARGV[1] member, ARGV[2] window µs: the member's window restarts now. Re-added
 * even when it had already expired (an answer slower than a window may mean a late arrival).
 */
const RESTAMP_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) / 1000) * 2)
return 1
`;

/** KEYS[1] block-until (µs); ARGV[1] block ms. Keeps the later of the existing and the new block. */
const BLOCK_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untilUs = now + tonumber(ARGV[1]) * 1000
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < untilUs then
  redis.call('SET', KEYS[1], string.format('%.0f', untilUs), 'PX', tonumber(ARGV[1]) + 1000)
end
return 1
`;

export class RedisRateLimiter extends BaseRateLimiter {
  private readonly redis: Redis;
  private readonly ownsRedis: boolean;
  private readonly ledgerKey: string;
  private readonly blockKey: string;
  private readonly pacedKey: string;
  private closing?: Promise<void>;

  constructor(options: RedisRateLimiterOptions) {
    super(options);
    if (typeof options.redis === 'string') {
      this.redis = new Redis(options.redis, { maxRetriesPerRequest: 2 });
      this.ownsRedis = true;
    } else {
      this.redis = options.redis;
      this.ownsRedis = false;
    }
    const prefix = options.keyPrefix ?? 'pems-sync:';
    // Hash tag {…} keeps both keys in one cluster slot, which a multi-key script needs.
    this.ledgerKey = `${prefix}ratelimit:{${options.credentialId}}:ledger`;
    this.blockKey = `${prefix}ratelimit:{${options.credentialId}}:block`;
    this.pacedKey = `${prefix}ratelimit:{${options.credentialId}}:paced`;
  }

  protected async unspend(member: string): Promise<void> {
    await this.redis.zrem(this.ledgerKey, member);
  }

  protected async restamp(member: string): Promise<void> {
    await this.redis.eval(RESTAMP_SCRIPT, 1, this.ledgerKey, member, this.windowMs * 1000);
  }

  protected async tryTake(member: string, paced: boolean): Promise<number> {
    try {
      const waitUs = Number(
        await this.redis.eval(
          TAKE_SCRIPT,
          3,
          this.ledgerKey,
          this.blockKey,
          this.pacedKey,
          paced ? this.pacedCeiling : this.limit,
          this.windowMs * 1000,
          member,
          paced ? this.pacingExponent : 0,
        ),
      );
      return waitUs <= 0 ? 0 : Math.ceil(waitUs / 1000);
    } catch (e) {
      throw new PemsSyncError('PEMS_SYNC_RATE_LIMITER_UNAVAILABLE', `shared rate limiter: ${(e as Error).message}`, {
        cause: e,
        retriable: true,
      });
    }
  }

  protected async block(ms: number): Promise<void> {
    try {
      await this.redis.eval(BLOCK_SCRIPT, 1, this.blockKey, Math.ceil(ms));
    } catch (e) {
      throw new PemsSyncError('PEMS_SYNC_RATE_LIMITER_UNAVAILABLE', `shared rate limiter: ${(e as Error).message}`, {
        cause: e,
        retriable: true,
      });
    }
  }

  close(): Promise<void> {
    this.closing ??= this.ownsRedis
      ? this.redis.quit().then(
          () => undefined,
          () => this.redis.disconnect(),
        )
      : Promise.resolve();
    return this.closing;
  }
}

/** Redis-backed when `redis` is given, in-process otherwise. */
export function createRateLimiter(
  options: RateLimiterOptions & { redis?: Redis | string; keyPrefix?: string },
): RateLimiter & { metrics: RateLimiterMetrics } {
  if (options.redis) return new RedisRateLimiter({ ...options, redis: options.redis });
  return new InProcessRateLimiter(options);
}
