import type { PemsClient } from '../pems';
import { OutageDetector } from '../../streams/retry';

export type PemsState = 'up' | 'down';
export type HealthListener = (organizationId: string, state: PemsState) => void;

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * PEMS reachability per organization: consecutive transient failures mark it down (writes stop
 * spending attempts; the task, subscribed, pauses consumption); a health probe every
 * probeIntervalMs brings it back. Every PEMS answer is fed in: the batch writer's requests and
 * the writes' direct calls (GET, DELETE).
 */
export class PemsHealth {
  private readonly detectors = new Map<string, OutageDetector>();
  /** Organizations held down by confirmOutage until a probe succeeds. */
  private readonly forced = new Set<string>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly probing = new Set<string>();
  private readonly listeners: HealthListener[] = [];
  private closed = false;

  constructor(
    private readonly opts: {
      threshold: number;
      probeIntervalMs: number;
      onChange?: HealthListener;
      sleep?: (ms: number) => Promise<void>;
    },
  ) {
    if (opts.onChange) this.listeners.push(opts.onChange);
  }

  /** Calls `listener` on every change of an organization's state; returns the unsubscribe. */
  subscribe(listener: HealthListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private detector(orgId: string): OutageDetector {
    let d = this.detectors.get(orgId);
    if (!d) {
      d = new OutageDetector({ threshold: this.opts.threshold });
      this.detectors.set(orgId, d);
    }
    return d;
  }

  isDown(orgId: string): boolean {
    return this.forced.has(orgId) || this.detector(orgId).current().state === 'down';
  }

  anyDown(): boolean {
    return [...this.detectors.keys()].some((org) => this.isDown(org));
  }

  record(orgId: string, result: 'success' | 'transient'): void {
    const wasDown = this.isDown(orgId);
    this.detector(orgId).record(result, Date.now());
    if (result === 'success') this.forced.delete(orgId);
    this.notify(orgId, wasDown);
  }

  /**
   * A write ran out of retries on transient errors: asks PEMS's health endpoint once. Answered:
   * PEMS is up and the write itself keeps failing (false). Not answered: PEMS is down, the
   * organization is marked down until a probe succeeds (true).
   */
  async confirmOutage(orgId: string, client: PemsClient): Promise<boolean> {
    if (this.closed) return false;
    const ok = await client.health().then(
      () => true,
      () => false,
    );
    if (ok) return false;
    const wasDown = this.isDown(orgId);
    this.forced.add(orgId);
    this.notify(orgId, wasDown);
    return true;
  }

  private notify(orgId: string, wasDown: boolean): void {
    const down = this.isDown(orgId);
    if (down !== wasDown) this.changed(orgId, down ? 'down' : 'up');
  }

  /** Resolves at once while PEMS is up; while down, when a probe succeeds. */
  async waitUntilUp(orgId: string, client: PemsClient): Promise<void> {
    if (!this.isDown(orgId) || this.closed) return;
    this.startProbe(orgId, client);
    await new Promise<void>((resolve) => {
      const list = this.waiters.get(orgId) ?? [];
      list.push(resolve);
      this.waiters.set(orgId, list);
    });
  }

  private startProbe(orgId: string, client: PemsClient): void {
    if (this.probing.has(orgId)) return;
    this.probing.add(orgId);
    const sleep = this.opts.sleep ?? defaultSleep;
    void (async () => {
      try {
        while (this.isDown(orgId) && !this.closed) {
          await sleep(this.opts.probeIntervalMs);
          const ok = await client.health().then(
            () => true,
            () => false,
          );
          const wasDown = this.isDown(orgId);
          this.detector(orgId).probeResult(ok, Date.now());
          if (ok) this.forced.delete(orgId);
          this.notify(orgId, wasDown);
        }
      } finally {
        this.probing.delete(orgId);
      }
    })();
  }

  private changed(orgId: string, state: 'up' | 'down'): void {
    for (const l of [...this.listeners]) l(orgId, state);
    if (state === 'up') {
      const list = this.waiters.get(orgId) ?? [];
      this.waiters.delete(orgId);
      list.forEach((w) => w());
    }
  }

  /** Releases every waiter (shutdown). */
  close(): void {
    this.closed = true;
    for (const list of this.waiters.values()) list.forEach((w) => w());
    this.waiters.clear();
  }
}
