/**
 * Fault injection and the bookkeeping the control surface reports. Kept apart from the HTTP code
 * so the decisions ("does this request hang?") are plain functions of state and a random source.
 */

export type LatencyFault = { kind: 'fixed'; ms: number } | { kind: 'uniform'; minMs: number; maxMs: number };

export interface FaultConfig {
  /** Added before a request is handled. */
  latency?: LatencyFault;
  /** Probability per HTTP status, e.g. { 503: 0.1 }: the request fails with that status, unhandled. */
  errorRates?: Record<string, number>;
  /** For durationMs from now every request fails: with `status` (default 503) or a connection reset. */
  outage?: { durationMs: number; mode?: 'error' | 'reset'; status?: number };
  /** Requests that are never answered: the next `count`, and/or each with probability `rate`. */
  hang?: { count?: number; rate?: number };
  /** Connections destroyed without an answer: the next `count`, and/or each with probability `rate`. */
  reset?: { count?: number; rate?: number };
  /** Limit every fault above to these endpoints (e.g. 'PUT /pfa/{id}'); all endpoints when absent. */
  endpoints?: string[];
}

export type FaultDecision =
  | { action: 'none'; delayMs: number }
  | { action: 'error'; status: number; delayMs: number }
  | { action: 'reset'; delayMs: number }
  | { action: 'hang'; delayMs: number };

const ERROR_CODES: Record<number, string> = {
  500: 'INTERNAL',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'UNAVAILABLE',
};

export function errorCodeFor(status: number): string {
  return ERROR_CODES[status] ?? (status >= 500 ? 'INTERNAL' : 'INJECTED');
}

export class FaultState {
  private config: FaultConfig = {};
  private outageUntil = 0;
  private hangLeft = 0;
  private resetLeft = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  set(config: FaultConfig): void {
    validateFaultConfig(config);
    this.config = { ...config };
    this.outageUntil = config.outage ? this.now() + config.outage.durationMs : 0;
    this.hangLeft = config.hang?.count ?? 0;
    this.resetLeft = config.reset?.count ?? 0;
  }

  clear(): void {
    this.config = {};
    this.outageUntil = 0;
    this.hangLeft = 0;
    this.resetLeft = 0;
  }

  get current(): FaultConfig {
    return { ...this.config };
  }

  decide(endpoint: string): FaultDecision {
    const c = this.config;
    if (c.endpoints && !c.endpoints.includes(endpoint)) return { action: 'none', delayMs: 0 };
    const delayMs = this.delay();
    if (this.outageUntil > this.now()) {
      if (c.outage?.mode === 'reset') return { action: 'reset', delayMs };
      return { action: 'error', status: c.outage?.status ?? 503, delayMs };
    }
    if (this.hangLeft > 0) {
      this.hangLeft -= 1;
      return { action: 'hang', delayMs };
    }
    if (c.hang?.rate && this.random() < c.hang.rate) return { action: 'hang', delayMs };
    if (this.resetLeft > 0) {
      this.resetLeft -= 1;
      return { action: 'reset', delayMs };
    }
    if (c.reset?.rate && this.random() < c.reset.rate) return { action: 'reset', delayMs };
    if (c.errorRates) {
      // One draw against the cumulative distribution, so rates add up as the caller wrote them.
      const draw = this.random();
      let acc = 0;
      for (const [status, p] of Object.entries(c.errorRates)) {
        acc += p;
        if (draw < acc) return { action: 'error', status: Number(status), delayMs };
      }
    }
    return { action: 'none', delayMs };
  }

  private delay(): number {
    const l = this.config.latency;
    if (!l) return 0;
    if (l.kind === 'fixed') return l.ms;
    return l.minMs + this.random() * (l.maxMs - l.minMs);
  }
}

export function validateFaultConfig(c: FaultConfig): void {
  const bad = (msg: string): never => {
    throw new RangeError(`fault config: ${msg}`);
  };
  if (c === null || typeof c !== 'object') bad('must be an object');
  if (c.latency) {
    const l = c.latency;
    if (l.kind === 'fixed') {
      if (!(l.ms >= 0)) bad('latency.ms must be >= 0');
    } else if (l.kind === 'uniform') {
      if (!(l.minMs >= 0 && l.maxMs >= l.minMs)) bad('latency needs 0 <= minMs <= maxMs');
    } else bad("latency.kind must be 'fixed' or 'uniform'");
  }
  if (c.errorRates) {
    let sum = 0;
    for (const [status, p] of Object.entries(c.errorRates)) {
      const s = Number(status);
      if (!Number.isInteger(s) || s < 400 || s > 599) bad(`errorRates key ${status} is not a 4xx/5xx status`);
      if (!(typeof p === 'number' && p >= 0 && p <= 1)) bad(`errorRates[${status}] must be a probability`);
      sum += p;
    }
    if (sum > 1) bad('errorRates add up to more than 1');
  }
  if (c.outage && !(c.outage.durationMs > 0)) bad('outage.durationMs must be > 0');
  for (const k of ['hang', 'reset'] as const) {
    const f = c[k];
    if (!f) continue;
    if (f.count !== undefined && !(Number.isInteger(f.count) && f.count >= 0))
      bad(`${k}.count must be a non-negative integer`);
    if (f.rate !== undefined && !(f.rate >= 0 && f.rate <= 1)) bad(`${k}.rate must be a probability`);
  }
}

/** Requests per credential in a sliding one-second window, and the most ever seen. */
export class WindowCounter {
  private readonly windows = new Map<string, { times: number[]; head: number; max: number }>();

  constructor(private readonly windowMs = 1000) {}

  hit(key: string, at: number): void {
    let w = this.windows.get(key);
    if (!w) {
      w = { times: [], head: 0, max: 0 };
      this.windows.set(key, w);
    }
    w.times.push(at);
    // Half-open window (at - windowMs, at]: the same convention a 1 s token bucket refills on.
    while (w.head < w.times.length && (w.times[w.head] ?? 0) <= at - this.windowMs) w.head += 1;
    const inWindow = w.times.length - w.head;
    if (inWindow > w.max) w.max = inWindow;
    if (w.head > 4096) {
      w.times = w.times.slice(w.head);
      w.head = 0;
    }
  }

  maxByKey(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, w] of this.windows) out[k] = w.max;
    return out;
  }

  clear(): void {
    this.windows.clear();
  }
}

/** The contract's server-side limit: token bucket per credential. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {}

  /** 0 when admitted, otherwise the milliseconds until a token is there. */
  take(key: string, at: number): number {
    if (this.ratePerSecond <= 0) return 0;
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((at - b.at) / 1000) * this.ratePerSecond);
    b.at = at;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return ((1 - b.tokens) / this.ratePerSecond) * 1000;
  }

  clear(): void {
    this.buckets.clear();
  }
}
